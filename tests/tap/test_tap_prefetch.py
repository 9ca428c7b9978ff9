"""Prefetching: pages are requested while earlier ones are written, at most two ahead.

No timings: request counts and order come from the sandbox's stats, faults from its `script`.
With `page_size` 50 the 250 seeded accounts are 5 pages; every page after the first is fetched
in the background while earlier pages' records are written.
"""

from __future__ import annotations

import io
import json
import logging
import time
from contextlib import redirect_stdout
from datetime import datetime

import pytest
from requests.adapters import HTTPAdapter
from singer_sdk.streams import RESTStream
from tap_helpers import new_tap, parse_messages, run_tap

from recotap_client import paging
from recotap_client.errors import RecotapAPIError, RecotapUnavailableError
from tap_recotap import pagination

GET_ACCOUNTS = "GET /api/v1/accounts"
PAGE, PAGES = 50, 5


def _account_requests(sandbox) -> int:
    return int(sandbox.admin.stats()["requests"].get(GET_ACCOUNTS, 0))


def _wait_for_account_requests(sandbox, count: int) -> int:
    """Poll until the sandbox has seen `count` GET /accounts (the prefetch is asynchronous)."""
    deadline = time.monotonic() + 10
    while _account_requests(sandbox) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # room for a request beyond `count`, which would be a bug
    return _account_requests(sandbox)


@pytest.fixture(params=["hand-over hook", "no hook"])
def with_hook(request) -> bool:
    """Both ways a page reaches the main thread: once the next request is sent, or (where the
    hook cannot run, as through a proxy) after its answer."""
    return request.param == "hand-over hook"


def _accounts_tap(tap_config, *, with_hook: bool, state=None):
    tap = new_tap(tap_config, state=state, only="accounts")
    if not with_hook:
        tap.streams["accounts"].requests_session.mount("http://", HTTPAdapter())
    return tap


def test_pages_are_read_ahead_of_the_records_being_written_but_at_most_two(
    sandbox, tap_config, with_hook
):
    tap = _accounts_tap(tap_config, with_hook=with_hook)
    records = iter(tap.streams["accounts"].get_records(None))
    read = []
    for page in range(1, PAGES + 1):
        read.append(next(records))  # the first record of `page`: later pages are on their way
        # While `page` is being written, one page waits to be taken and one more is fetched;
        # the fetching thread then waits: a consumer that stops reading stops the requests.
        ahead = min(page + 2, PAGES)
        assert _wait_for_account_requests(sandbox, ahead) == ahead
        read.extend(next(records) for _ in range(PAGE - 1))
    assert next(records, None) is None
    # The last page says hasNextPage: false (with a nextCursor still set): nothing after it.
    assert _account_requests(sandbox) == PAGES
    keys = [record["rtp_aid"] for record in read]
    assert keys == sorted(keys)  # keyset order: pages written in the order they were requested
    assert len(set(keys)) == 250


def test_a_prefetched_page_is_retried_under_the_same_policy(sandbox, tap_config, caplog):
    # custom-fields discovery and page 1 pass; page 2, requested in the background, fails three
    # times (503, 429, dropped connection) before it is answered.
    sandbox.admin.set_faults(retry_after=0, script=["ok", "ok", "503:before", "429", "drop:before"])

    with caplog.at_level(logging.WARNING):
        run = run_tap(tap_config, only="accounts")

    keys = [record["rtp_aid"] for record in run.records("accounts")]
    assert keys == sorted(set(keys))
    assert len(keys) == 250
    assert _account_requests(sandbox) == PAGES + 3
    injected = sandbox.admin.stats()["faults_injected"]
    assert (injected["503"], injected["429"], injected["drop"]) == (1, 1, 1)
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [m.split(";")[1].split(",")[0].strip() for m in retries] == [
        "attempt 1 of 4",
        "attempt 2 of 4",
        "attempt 3 of 4",
    ]


def test_a_prefetched_page_that_keeps_failing_ends_the_run_after_the_pages_before_it(
    sandbox, tap_config, with_hook
):
    saved = run_tap(tap_config, only="accounts").states[-1]
    assert len(sandbox.admin.rescore(share=1.0)) == 250  # the next run reads all 5 pages again
    before = _account_requests(sandbox)
    # custom-fields discovery, pages 1 and 2 pass; page 3 fails all 4 attempts.
    sandbox.admin.set_faults(retry_after=0, script=["ok", "ok", "ok", "503", "503", "503", "503"])

    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(RecotapUnavailableError) as failure:
        _accounts_tap(tap_config, with_hook=with_hook, state=saved).sync_all()

    # The message the sequential loop gave: the policy's exhaustion error, naming the request.
    assert str(failure.value) == (
        "Recotap still failing after 4 attempts: Recotap answered 503 to GET /api/v1/accounts. "
        "The API may be down or overloaded; try again later."
    )
    messages = parse_messages(out.getvalue())
    records = [m["record"]["rtp_aid"] for m in messages if m["type"] == "RECORD"]
    assert len(records) == 2 * PAGE == len(set(records))  # pages 1 and 2, written before the error
    assert _account_requests(sandbox) - before == 2 + 4  # nothing past the failing page
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states
    assert all(
        state["bookmarks"]["accounts"]["replication_key_value"]
        == saved["bookmarks"]["accounts"]["replication_key_value"]
        for state in states
    )


def test_a_repeated_cursor_stops_the_run_after_that_pages_records(sandbox, tap_config, monkeypatch):
    # The sandbox never repeats a cursor: make every page after the first name the first cursor
    # again, as a broken API would (the only way to reach this branch over real HTTP).
    cursors: list[str] = []
    read_list_page = paging._read_list_page

    def first_cursor_forever(body):
        listed = read_list_page(body)
        if listed is not None and listed.nextCursor:
            cursors.append(listed.nextCursor)
            listed.nextCursor = cursors[0]
        return listed

    monkeypatch.setattr(paging, "_read_list_page", first_cursor_forever)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(RecotapAPIError, match="repeated the cursor"):
        new_tap(tap_config, only="accounts").sync_all()

    records = [m for m in parse_messages(out.getvalue()) if m["type"] == "RECORD"]
    assert len(records) == 2 * PAGE  # page 2's records are written, then the loop stops
    assert _account_requests(sandbox) == 2


def test_records_carry_the_time_their_page_arrived(sandbox, tap_config):
    run = run_tap(tap_config, only="accounts")

    messages = [m for m in run.messages if m["type"] == "RECORD"]
    extracted = [m["time_extracted"] for m in messages]
    assert len(set(extracted)) == PAGES  # one arrival per page
    for message in messages:
        page_time = datetime.fromisoformat(message["record"]["_sdc_sync_timestamp"])
        assert datetime.fromisoformat(message["time_extracted"]) >= page_time


def test_every_request_logs_its_duration_metric_once(sandbox, tap_config, caplog):
    # Successful pages are logged when the main thread takes them, a failed attempt where it
    # fails: still one SDK METRIC line per request, with its status.
    sandbox.admin.set_faults(retry_after=0, script=["ok", "ok", "503:before"])

    with caplog.at_level(logging.INFO, logger="singer_sdk.metrics"):
        run_tap(tap_config, only="accounts")

    points = [
        json.loads(r.getMessage().removeprefix("METRIC: "))
        for r in caplog.records
        if '"metric":"http_request_duration"' in r.getMessage()
    ]
    assert len(points) == _account_requests(sandbox) == PAGES + 1
    statuses = [(p["tags"]["http_status_code"], p["tags"]["status"]) for p in points]
    assert statuses.count((200, "succeeded")) == PAGES
    assert statuses.count((503, "failed")) == 1
    assert all(p["tags"]["endpoint"] == "/accounts" and p["value"] > 0 for p in points)


@pytest.mark.parametrize(
    "cursor", ["eyJpZCI6MTIzfQ==", "a b&c=d/e?f#g", "100%+ünï€😀", "~-._!*'();:@,$[]"]
)
@pytest.mark.parametrize("domains", [None, ["a.example.com", "b.example.org"]])
def test_a_next_page_request_is_the_one_the_sdk_would_prepare(tap_config, cursor, domains):
    # Pages after the first reuse the previous prepared request with the new query; what is
    # sent must not differ from the SDK's own preparation, whatever the cursor holds.
    config = {**tap_config, "domains": domains} if domains else tap_config
    stream = new_tap(config, only="accounts").streams["accounts"]
    paginator = stream.get_new_paginator()
    first = stream._prepare_request(context=None, page=paginator)
    paginator._value = pagination.PageToken(cursor=cursor)  # as `advance` sets it
    fast = stream._prepare_request(context=None, page=paginator)
    sdk = RESTStream._prepare_request(stream, context=None, page=paginator)
    assert first.url != fast.url
    assert (fast.method, fast.url, fast.headers, fast.body) == (
        sdk.method,
        sdk.url,
        sdk.headers,
        sdk.body,
    )
