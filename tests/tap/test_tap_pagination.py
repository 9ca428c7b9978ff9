"""Paging: every page exactly once, stop on hasNextPage only, no loops, domains in chunks."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests
from tap_helpers import run_tap

from recotap_client.errors import RecotapAPIError
from tap_recotap.pagination import PageToken, RecotapPaginator


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


def _page(body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps({"statusCode": 200, "data": body}).encode()
    response.request = requests.Request("GET", "http://127.0.0.1/api/v1/accounts").prepare()
    return response


# The sandbox never repeats a cursor nor forgets one; these branches need hand-made pages.
def test_a_repeated_cursor_is_an_error_not_a_loop():
    paginator = RecotapPaginator()
    paginator.advance(_page({"data": [{}], "nextCursor": "a", "hasNextPage": True}))
    paginator.advance(_page({"data": [{}], "nextCursor": "b", "hasNextPage": True}))
    with pytest.raises(RecotapAPIError, match="repeated the cursor 'a'"):
        paginator.advance(_page({"data": [{}], "nextCursor": "a", "hasNextPage": True}))


def test_more_pages_without_a_cursor_is_an_error_not_a_silent_stop():
    paginator = RecotapPaginator()
    with pytest.raises(RecotapAPIError, match="no nextCursor"):
        paginator.advance(_page({"data": [], "nextCursor": None, "hasNextPage": True}))


def test_an_empty_page_that_says_more_follow_does_not_end_the_sync():
    paginator = RecotapPaginator()
    empty = _page({"data": [], "nextCursor": "c1", "hasNextPage": True})
    assert paginator.continue_if_empty(empty)
    paginator.advance(empty)
    assert paginator.current_value == PageToken(cursor="c1")
    last = _page({"data": [], "nextCursor": "c2", "hasNextPage": False})
    assert not paginator.continue_if_empty(last)
