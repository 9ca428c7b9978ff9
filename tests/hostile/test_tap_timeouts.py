"""Issue 14 item 5: `request_timeout` bounds a whole answer, not each socket read.

A body that trickles one byte at a time never let a socket read time out, so the request hung
for as long as the server liked. Now the answer is abandoned once `request_timeout` has passed
since the request was sent, then retried as any timeout, and the run fails when retries run out.
The tap's streams and the shared session (discovery, the target) use the same transport.
"""

from __future__ import annotations

import json

from hostile_server import Reply
from plugin_cli import accounts_catalog, accounts_page, base_config, run_plugin

# 0.1 s per byte: an answer of 150-300 bytes takes 15-30 s to arrive, while no single read
# waits longer than 0.1 s: per-read timeouts never fire.
TRICKLE = 0.1
TIMEOUT = 1.0


def _trickling(reply: Reply) -> Reply:
    reply.trickle = TRICKLE
    return reply


def test_a_trickling_page_is_abandoned_retried_and_then_fails_the_run(hostile, tmp_path):
    hostile.always("GET", "/accounts", _trickling(accounts_page(range(1))))

    run = run_plugin(
        "tap-recotap",
        base_config(hostile, request_timeout=TIMEOUT),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
    )

    assert run.returncode != 0
    assert run.last_line.endswith(
        "Recotap still failing after 2 attempts: the answer to GET /api/v1/accounts was still "
        "incomplete after request_timeout (1 s). The API may be down or overloaded; try again "
        "later."
    )
    assert len(hostile.requests) == 2
    assert run.records() == []


def test_a_trickling_page_is_retried_and_the_run_completes(hostile, tmp_path):
    hostile.sequence(
        "GET", "/accounts", [_trickling(accounts_page(range(1))), accounts_page(range(3))]
    )

    run = run_plugin(
        "tap-recotap",
        base_config(hostile, request_timeout=TIMEOUT),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
    )

    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 3
    assert len(hostile.requests) == 2
    assert "still incomplete after request_timeout (1 s)); attempt 1 of 2" in run.stderr


def test_a_trickling_discovery_answer_is_abandoned(hostile, tmp_path):
    hostile.always("GET", "/accounts/custom-fields", _trickling(Reply.envelope([{"key": "A"}])))

    run = run_plugin(
        "tap-recotap",
        base_config(hostile, request_timeout=TIMEOUT),
        "--discover",
        tmp_path=tmp_path,
    )

    assert run.returncode != 0
    assert "the answer to GET /api/v1/accounts/custom-fields was still incomplete" in run.last_line
    assert len(hostile.requests) == 2


def test_the_targets_writes_have_the_same_bound(hostile, tmp_path):
    result = {"domain": "a.example.com", "rtp_aid": "a1", "status": "created"}
    answer = {"results": [result], "summary": {"total": 1, "created": 1}}
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))
    hostile.sequence(
        "POST", "/accounts", [_trickling(Reply.envelope(answer)), Reply.envelope(answer)]
    )
    schema = {"type": "object", "properties": {"domain": {}, "name": {}}}
    lines = [
        {"type": "SCHEMA", "stream": "accounts", "schema": schema, "key_properties": ["domain"]},
        {
            "type": "RECORD",
            "stream": "accounts",
            "record": {"domain": result["domain"], "name": "A"},
        },
    ]

    run = run_plugin(
        "target-recotap",
        base_config(hostile, request_timeout=TIMEOUT),
        tmp_path=tmp_path,
        stdin="".join(json.dumps(line) + "\n" for line in lines),
    )

    assert run.returncode == 0, run.stderr
    assert len(hostile.requests_to("POST", "/accounts")) == 2
    assert "the answer to POST /api/v1/accounts was still incomplete" in run.stderr
