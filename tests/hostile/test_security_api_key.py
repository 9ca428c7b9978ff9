"""Issue 14 item 2: a key with surrounding whitespace works; one no header can carry is refused
by both plugins with a message that never shows it, in any form.

(Config-validation messages about a non-string key belong to the config checks, not here.)
"""

from __future__ import annotations

import json

import pytest
from hostile_server import Reply
from plugin_cli import API_KEY, accounts_catalog, accounts_page, base_config, run_plugin

# Two halves that each identify the key: neither may appear, whatever way it was quoted.
LEFT, RIGHT = "Kq7vLeftHalf93", "RightHalfZp41x"


def _forms(key: str) -> list[str]:
    """The ways a key can leak into a log: as is, repr, bytes repr, JSON, and its halves."""
    return [key, repr(key), repr(key.encode()), json.dumps(key), LEFT, RIGHT]


def _target_input() -> str:
    schema = {
        "type": "object",
        "properties": {"domain": {"type": "string"}, "name": {"type": "string"}},
    }
    record = {"domain": "a.example.com", "name": "A"}
    messages = [
        {"type": "SCHEMA", "stream": "accounts", "schema": schema, "key_properties": ["domain"]},
        {"type": "RECORD", "stream": "accounts", "record": record},
    ]
    return "".join(json.dumps(m) + "\n" for m in messages)


@pytest.mark.parametrize("padded", [f"{API_KEY}\n", f"  {API_KEY}\r\n", f"\t{API_KEY} "])
def test_the_tap_strips_whitespace_around_the_key(hostile, tmp_path, padded):
    hostile.always("GET", "/accounts", accounts_page(range(2)))

    run = run_plugin(
        "tap-recotap",
        base_config(hostile, api_key=padded),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
    )

    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 2
    assert [r.headers["X-Api-Key"] for r in hostile.requests] == [API_KEY]


def test_tap_discovery_strips_whitespace_around_the_key(hostile, tmp_path):
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))

    run = run_plugin(
        "tap-recotap", base_config(hostile, api_key=f"{API_KEY}\n"), "--discover", tmp_path=tmp_path
    )

    assert run.returncode == 0, run.stderr
    assert [r.headers["X-Api-Key"] for r in hostile.requests] == [API_KEY]


def test_the_target_strips_whitespace_around_the_key(hostile, tmp_path):
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))
    created = [{"domain": "a.example.com", "status": "created"}]
    hostile.always("POST", "/accounts", Reply.envelope(created))

    run = run_plugin(
        "target-recotap",
        base_config(hostile, api_key=f"{API_KEY}\n"),
        tmp_path=tmp_path,
        stdin=_target_input(),
    )

    assert hostile.requests_to("POST", "/accounts"), run.stderr
    assert {r.headers["X-Api-Key"] for r in hostile.requests} == {API_KEY}


UNSENDABLE = {
    "a line break inside": f"{LEFT}\n{RIGHT}",
    "a carriage return inside": f"{LEFT}\r{RIGHT}",
    "a NUL": f"{LEFT}\x00{RIGHT}",
    "a non-ASCII letter": f"{LEFT}é{RIGHT}",
    "an emoji": f"{LEFT}\U0001f511{RIGHT}",
}


@pytest.mark.parametrize("key", UNSENDABLE.values(), ids=UNSENDABLE.keys())
@pytest.mark.parametrize("mode", ["sync", "discover"])
def test_the_tap_refuses_a_key_no_header_can_carry_without_showing_it(hostile, tmp_path, key, mode):
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))
    hostile.always("GET", "/accounts", accounts_page(range(2)))
    args = ("--discover",) if mode == "discover" else ()
    catalog = accounts_catalog() if mode == "sync" else None

    run = run_plugin(
        "tap-recotap", base_config(hostile, api_key=key), *args, tmp_path=tmp_path, catalog=catalog
    )

    assert run.returncode != 0
    assert "api_key cannot be sent in an HTTP header" in run.stderr
    assert "Traceback" not in run.stderr
    for form in _forms(key):
        assert form not in run.stderr + run.stdout
    assert hostile.requests == []


@pytest.mark.parametrize("key", UNSENDABLE.values(), ids=UNSENDABLE.keys())
def test_the_target_refuses_a_key_no_header_can_carry_without_showing_it(hostile, tmp_path, key):
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))

    run = run_plugin(
        "target-recotap",
        base_config(hostile, api_key=key),
        tmp_path=tmp_path,
        stdin=_target_input(),
    )

    assert run.returncode != 0
    assert "api_key cannot be sent in an HTTP header" in run.stderr
    for form in _forms(key):
        assert form not in run.stderr + run.stdout
    assert hostile.requests == []


@pytest.mark.parametrize("plugin", ["tap-recotap", "target-recotap"])
def test_a_key_of_only_whitespace_is_refused(hostile, tmp_path, plugin):
    run = run_plugin(
        plugin,
        base_config(hostile, api_key=" \n"),
        *(("--discover",) if plugin == "tap-recotap" else ()),
        tmp_path=tmp_path,
        stdin="",
    )

    assert run.returncode != 0
    assert "api_key is empty or only whitespace" in run.stderr
    assert hostile.requests == []
