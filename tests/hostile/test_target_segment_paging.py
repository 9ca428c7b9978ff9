"""The target lists segments (the `segment_id` check) by the tap's paging rule.

A segments page whose paging cannot be trusted stops the run before any account is sent, with
the same error the tap gives for such a page; a good list is followed to its last page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hostile_server import HostileServer, Reply
from target_api import AccountsAPI, record, run_target, schema, target_config

SEGMENT = {"segmentId": "seg-2", "name": "Second", "type": "static", "status": "active"}
OTHER = {"segmentId": "seg-1", "name": "First", "type": "static", "status": "draft"}


def _run(hostile: HostileServer, tmp_path: Path):
    accounts = AccountsAPI(hostile)
    messages = [
        schema("accounts", ["domain", "name"]),
        record("accounts", {"domain": "a.example.com", "name": "A"}),
    ]
    config = target_config(hostile, tmp_path, segment_id=SEGMENT["segmentId"])
    return run_target(config, tmp_path, messages), accounts


def _page(data: list[Any], **paging: Any) -> Reply:
    return Reply.envelope({"data": data, **paging})


def test_the_segment_list_is_followed_to_its_last_page(hostile, tmp_path):
    hostile.sequence(
        "GET",
        "/segments",
        [
            _page([OTHER], hasNextPage=True, nextCursor="c1"),
            _page([SEGMENT], hasNextPage=False, nextCursor="c1"),  # a cursor may stay set
        ],
    )

    run, accounts = _run(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    asked = [request.query for request in hostile.requests_to("GET", "/segments")]
    assert asked == [{"limit": ["100"]}, {"limit": ["100"], "cursor": ["c1"]}]
    assert accounts.confirmed == ["a.example.com"]


MALFORMED = {
    "no hasNextPage": (
        [_page([OTHER], nextCursor="c1")],
        "malformed page (GET /api/v1/segments, the first page): hasNextPage is missing",
    ),
    "a bare array": (
        [Reply.envelope([OTHER])],
        "hasNextPage is missing (no paging fields at all)",
    ),
    "more pages without a cursor": (
        [_page([OTHER], hasNextPage=True)],
        "Recotap said hasNextPage but sent no nextCursor for GET /api/v1/segments",
    ),
    "a repeated cursor": (
        [
            _page([OTHER], hasNextPage=True, nextCursor="c1"),
            _page([], hasNextPage=True, nextCursor="c2"),
            _page([], hasNextPage=True, nextCursor="c1"),
        ],
        "Recotap repeated the cursor 'c1' for GET /api/v1/segments after 3 pages",
    ),
}


@pytest.mark.parametrize(("pages", "error"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_segment_list_with_untrustworthy_paging_stops_the_run_before_any_write(
    hostile, tmp_path, pages, error
):
    # The segment sought is on a page the target never reaches: a silent stop would refuse it
    # as unusable, a guess would read on; either way the user would be told something untrue.
    hostile.sequence("GET", "/segments", [*pages, _page([SEGMENT], hasNextPage=False)])

    run, accounts = _run(hostile, tmp_path)

    assert run.returncode != 0
    assert error in run.stderr
    assert "cannot receive accounts" not in run.stderr
    assert accounts.received() == 0
