"""Paging: every page exactly once, stop on hasNextPage only, domains in chunks.

Loops, missing cursors and malformed pages need an API that misbehaves:
tests/hostile/test_tap_paging.py and tests/hostile/test_tap_read_ahead.py.
"""

from __future__ import annotations

from collections import Counter

from tap_helpers import run_tap


def test_a_many_page_full_sync_reads_every_account_once(sandbox, tap_config):
    run = run_tap({**tap_config, "page_size": 7}, only="accounts")

    keys = [record["rtp_aid"] for record in run.records("accounts")]
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    assert not duplicates
    assert set(keys) == {a["rtp_aid"] for a in sandbox.admin.dump()["accounts"]}
    # 250 / 7 -> 36 pages; the last one still carries a nextCursor (the sandbox, like the real
    # API, leaves it set), and the tap stops there instead of asking for a 37th page.
    assert sandbox.admin.stats()["requests"]["GET /api/v1/accounts"] == 36


def test_segments_are_paged_to_the_end(sandbox, tap_config):
    run = run_tap({**tap_config, "page_size": 1}, only="segments")

    expected = {s["segmentId"] for s in sandbox.admin.dump()["segments"]
                if s["type"] == "static" and s["status"] in {"active", "draft"}}  # fmt: skip
    assert len(run.records("segments")) == len(expected) > 1
    assert run.ids("segments", "segmentId") == expected


def test_domains_filter_is_sent_100_per_request(sandbox, tap_config):
    accounts = sandbox.admin.dump()["accounts"]
    wanted = [a["domain"] for a in accounts[:150]]
    # Duplicates and www./https:// forms are the API's to normalise; duplicates are dropped.
    domains = [*wanted, *wanted[:10], f"https://www.{accounts[200]['domain']}/about"]

    run = run_tap({**tap_config, "page_size": 500, "domains": domains}, only="accounts")

    assert run.ids() == {a["rtp_aid"] for a in [*accounts[:150], accounts[200]]}
    assert sandbox.admin.stats()["requests"]["GET /api/v1/accounts"] == 2


def test_each_domains_chunk_is_paged_to_its_end(sandbox, tap_config):
    accounts = sandbox.admin.dump()["accounts"]
    domains = [a["domain"] for a in accounts[:151]]

    run = run_tap({**tap_config, "page_size": 40, "domains": domains}, only="accounts")

    assert run.ids() == {a["rtp_aid"] for a in accounts[:151]}
    assert len(run.records("accounts")) == 151
    # 100 domains in 3 pages (40, 40, 20), then 51 in 2 (40, 11).
    assert sandbox.admin.stats()["requests"]["GET /api/v1/accounts"] == 5
