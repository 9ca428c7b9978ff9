"""Incremental accounts: the bookmark is the server's first-page time of the last complete run."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest
from tap_helpers import (
    api_post,
    bookmark,
    captured_stdout,
    config_for,
    new_tap,
    parse_messages,
    run_tap,
)

from recotap_client.errors import RecotapUnavailableError

ALL_ACCOUNTS = 250


def _updated_at(sandbox, rtp_aid: str) -> datetime:
    account = next(a for a in sandbox.admin.dump()["accounts"] if a["rtp_aid"] == rtp_aid)
    return datetime.fromisoformat(account["updatedAt"].replace("Z", "+00:00"))


def test_next_run_returns_exactly_the_accounts_changed_since_the_last(either_sandbox):
    config = config_for(either_sandbox)
    first = run_tap(config, only="accounts")
    assert len(first.ids()) == ALL_ACCOUNTS
    state = first.states[-1]
    assert state["bookmarks"]["accounts"]["replication_key"] == "_sdc_sync_timestamp"

    rescored = set(either_sandbox.admin.rescore(share=0.05))
    domain = first.records("accounts")[17]["domain"]
    pushed = api_post(
        either_sandbox,
        "/accounts",
        {"accounts": [{"domain": domain, "name": "Renamed Co"}], "upsert": True},
    )
    upserted = pushed["results"][0]["rtp_aid"]

    second = run_tap(config, state=state, only="accounts")

    assert rescored, "the sandbox rescored nothing; the test would prove nothing"
    assert second.ids() == rescored | {upserted}
    assert bookmark(second.states[-1]) > bookmark(state)
    # An immediate re-run repeats at most the changes inside the look-back window.
    third = run_tap(config, state=second.states[-1], only="accounts")
    assert third.ids() <= second.ids()


def test_changes_made_while_a_run_pages_are_returned_by_the_next_run(either_sandbox):
    config = config_for(either_sandbox, page_size=25)  # 10 pages
    tap = new_tap(config, only="accounts")
    stream = tap.streams["accounts"]
    read: list[dict] = []
    changed: set[str] = set()
    with captured_stdout() as buffer:
        for record in stream._sync_records(None):
            read.append(record)
            if len(read) == 30:  # page 2 is being read; pages 1 and 2 are behind us
                behind = [read[0]["rtp_aid"], read[12]["rtp_aid"], read[29]["rtp_aid"]]
                changed |= set(either_sandbox.admin.rescore(rtp_aids=behind))
                upsert = {"accounts": [{"domain": read[5]["domain"], "name": "Mid Run"}]}
                pushed = api_post(either_sandbox, "/accounts", {**upsert, "upsert": True})
                changed.add(pushed["results"][0]["rtp_aid"])
        stream.finalize_state_progress_markers()
    assert len({r["rtp_aid"] for r in read}) == ALL_ACCOUNTS
    state = copy.deepcopy(tap.state)
    assert parse_messages(buffer.getvalue())[-1]["value"] == state
    first_page_time = datetime.fromisoformat(read[0]["_sdc_sync_timestamp"])
    assert first_page_time < datetime.fromisoformat(read[-1]["_sdc_sync_timestamp"])
    assert datetime.fromisoformat(bookmark(state)) == first_page_time - timedelta(seconds=5)

    second = run_tap(config, state=state, only="accounts")

    assert len(changed) == 4
    assert second.ids() == changed


def test_an_interrupted_run_leaves_the_bookmark_where_it_was(sandbox, tap_config):
    config = {**tap_config, "page_size": 3, "max_retries": 2}
    first = run_tap(config, only="accounts")
    saved = first.states[-1]
    changed = set(sandbox.admin.rescore(share=0.04))
    assert len(changed) > 3  # at least two pages
    # Discovery and page 1 succeed, page 2 fails on every attempt.
    sandbox.admin.set_faults(script=["ok", "ok", "503", "503"])
    with captured_stdout() as buffer, pytest.raises(RecotapUnavailableError):
        new_tap(config, state=saved, only="accounts").sync_all()

    emitted = [m["value"] for m in parse_messages(buffer.getvalue()) if m["type"] == "STATE"]
    assert emitted, "the run should have re-emitted the incoming state"
    assert all(bookmark(state) == bookmark(saved) for state in emitted)
    resumed = run_tap(config, state=emitted[-1], only="accounts")
    assert resumed.ids() == changed


def test_start_date_selects_the_first_run_only(sandbox, tap_config):
    accounts = sorted(sandbox.admin.dump()["accounts"], key=lambda a: a["updatedAt"])
    start = accounts[200]["updatedAt"]
    expected = {a["rtp_aid"] for a in accounts if a["updatedAt"] >= start}

    first = run_tap({**tap_config, "start_date": start}, only="accounts")
    assert first.ids() == expected
    assert 40 < len(expected) < 60

    changed = set(sandbox.admin.rescore(rtp_aids=[accounts[3]["rtp_aid"]]))
    for start_date in ("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"):
        later = run_tap(
            {**tap_config, "start_date": start_date}, state=first.states[-1], only="accounts"
        )
        assert later.ids() == changed, f"start_date {start_date} overrode the bookmark"


def test_bookmark_is_the_first_page_time_less_the_look_back(sandbox, tap_config):
    # How the next run sends it (verbatim, as lastSync): tests/hostile/test_tap_requests.py.
    first = run_tap({**tap_config, "lookback_seconds": 7}, only="accounts")
    first_page_time = datetime.fromisoformat(first.records("accounts")[0]["_sdc_sync_timestamp"])
    saved = datetime.fromisoformat(bookmark(first.states[-1]))
    assert saved == first_page_time - timedelta(seconds=7)


def test_a_change_inside_the_look_back_window_is_read_again(sandbox, tap_config):
    target = sandbox.admin.rescore(share=0.01)[0]
    changed_at = _updated_at(sandbox, target)
    first = run_tap({**tap_config, "lookback_seconds": 3600}, only="accounts")
    assert target in first.ids()

    again = run_tap(tap_config, state=first.states[-1], only="accounts")

    assert datetime.fromisoformat(bookmark(first.states[-1])) < changed_at
    assert target in again.ids()
