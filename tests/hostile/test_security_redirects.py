"""Issue 14 item 1: the API key (and a write's body) never reach an origin other than api_url's.

A redirect is never followed: the run fails with a message naming where it pointed, and the
second origin (`elsewhere`) receives nothing, whether the tap syncs, discovers, or the target
writes.
"""

from __future__ import annotations

import json

import pytest
from hostile_server import HostileServer, Reply
from plugin_cli import (
    API_KEY,
    accounts_catalog,
    accounts_page,
    base_config,
    run_plugin,
)

REDIRECTS = [301, 302, 303, 307, 308]


def _assert_refused_redirect(run, hostile: HostileServer, elsewhere: HostileServer, path: str):
    assert run.returncode != 0
    assert elsewhere.requests == []
    assert "redirect (HTTP" in run.stderr
    assert f"to {elsewhere.api_url}{path}" in run.stderr  # the Location, named
    assert "Traceback" not in run.stderr
    assert API_KEY not in run.stderr + run.stdout


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_tap_sync_redirected_elsewhere_sends_nothing_there(hostile, elsewhere, tmp_path, status):
    hostile.always("GET", "/accounts", Reply.redirect(f"{elsewhere.api_url}/accounts", status))
    elsewhere.always("GET", "/accounts", accounts_page(range(3)))

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    _assert_refused_redirect(run, hostile, elsewhere, "/accounts")
    assert run.records() == []
    assert len(hostile.requests_to("GET", "/accounts")) == 1  # an error, not retried


def test_a_same_origin_redirect_is_not_followed_either(hostile, tmp_path):
    # The API documents no redirects: even one to api_url's own origin is an error to fix in
    # api_url, not something to follow with the key.
    hostile.always("GET", "/accounts", Reply.redirect(f"{hostile.api_url}/v2/accounts", 302))

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    assert run.returncode != 0
    assert f"to {hostile.api_url}/v2/accounts" in run.stderr
    assert [r.path for r in hostile.requests] == ["/api/v1/accounts"]


@pytest.mark.parametrize("status", [302, 307])
def test_discovery_redirected_elsewhere_sends_nothing_there(hostile, elsewhere, tmp_path, status):
    target = f"{elsewhere.api_url}/accounts/custom-fields"
    hostile.always("GET", "/accounts/custom-fields", Reply.redirect(target, status))
    elsewhere.always("GET", "/accounts/custom-fields", Reply.envelope([]))

    run = run_plugin("tap-recotap", base_config(hostile), "--discover", tmp_path=tmp_path)

    _assert_refused_redirect(run, hostile, elsewhere, "/accounts/custom-fields")
    assert run.stdout == ""  # no catalog


def _accounts_input() -> str:
    schema = {
        "type": "object",
        "properties": {
            "domain": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "externalId": {"type": ["string", "null"]},
        },
    }
    messages = [
        {"type": "SCHEMA", "stream": "accounts", "schema": schema, "key_properties": ["domain"]},
        {
            "type": "RECORD",
            "stream": "accounts",
            "record": {"domain": "customer-secret.example.com", "name": "Private Customer"},
        },
        {"type": "STATE", "value": {"bookmarks": {"crm": {"at": 1}}}},
    ]
    return "".join(json.dumps(m) + "\n" for m in messages)


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_target_write_redirected_elsewhere_sends_neither_key_nor_body_there(
    hostile, elsewhere, tmp_path, status, record_property
):
    hostile.always("GET", "/accounts/custom-fields", Reply.envelope([]))
    hostile.always("POST", "/accounts", Reply.redirect(f"{elsewhere.api_url}/accounts", status))
    elsewhere.always("POST", "/accounts", Reply.envelope([]))

    run = run_plugin(
        "target-recotap", base_config(hostile), tmp_path=tmp_path, stdin=_accounts_input()
    )

    assert run.returncode != 0
    assert elsewhere.requests == []
    assert f"to {elsewhere.api_url}/accounts" in run.stderr
    assert API_KEY not in run.stderr + run.stdout
    # The customer data went to api_url's origin only, once, and no STATE passed it.
    posts = hostile.requests_to("POST", "/accounts")
    assert len(posts) == 1
    assert b"customer-secret.example.com" in posts[0].body
    assert '"crm"' not in run.stdout
    record_property(
        "reliability",
        f"hostile redirect {status} of a target write to another origin: "
        f"{len(elsewhere.requests)} requests reached it, exit {run.returncode}, no STATE",
    )
