"""Read-ahead: pages are requested while earlier ones are written, at most one ahead.

No timings: request counts and order come from the sandbox's stats, faults from its `script`.
With `page_size` 50 the 250 seeded accounts are 5 pages; while the records of one page are
written, the next page's request is on its way.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import pytest
from tap_helpers import captured_stdout, new_tap, parse_messages, run_tap

from recotap_client.errors import RecotapUnavailableError

GET_ACCOUNTS = "GET /api/v1/accounts"
PAGE, PAGES = 50, 5


def _account_requests(sandbox) -> int:
    return int(sandbox.admin.stats()["requests"].get(GET_ACCOUNTS, 0))


def _wait_for_account_requests(sandbox, count: int) -> int:
    """Poll until the sandbox has seen `count` GET /accounts (the read-ahead is asynchronous)."""
    deadline = time.monotonic() + 10
    while _account_requests(sandbox) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # room for a request beyond `count`, which would be a bug
    return _account_requests(sandbox)


@pytest.mark.parametrize("read_ahead", [True, False], ids=["read ahead", "one after another"])
def test_pages_are_read_one_ahead_of_the_records_being_written(sandbox, tap_config, read_ahead):
    stream = new_tap(tap_config, only="accounts").streams["accounts"]
    stream.read_ahead = read_ahead
    records = iter(stream.get_records(None))
    read = []
    for page in range(1, PAGES + 1):
        read.append(next(records))  # the first record of `page`
        # While `page` is being written, the next one is fetched, and nothing beyond it: a
        # consumer that stops reading stops the requests. Without read-ahead, nothing ahead.
        ahead = min(page + 1, PAGES) if read_ahead else page
        assert _wait_for_account_requests(sandbox, ahead) == ahead
        read.extend(next(records) for _ in range(PAGE - 1))
    assert next(records, None) is None
    # The last page says hasNextPage: false (with a nextCursor still set): nothing after it.
    assert _account_requests(sandbox) == PAGES
    keys = [record["rtp_aid"] for record in read]
    assert keys == sorted(keys)  # keyset order: pages written in the order they were requested
    assert len(set(keys)) == 250


def test_a_page_read_ahead_is_retried_under_the_same_policy(sandbox, tap_config, caplog):
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


def test_a_page_that_keeps_failing_ends_the_run_after_the_pages_before_it(sandbox, tap_config):
    saved = run_tap(tap_config, only="accounts").states[-1]
    assert len(sandbox.admin.rescore(share=1.0)) == 250  # the next run reads all 5 pages again
    before = _account_requests(sandbox)
    # custom-fields discovery, pages 1 and 2 pass; page 3 fails all 4 attempts.
    sandbox.admin.set_faults(retry_after=0, script=["ok", "ok", "ok", "503", "503", "503", "503"])

    with captured_stdout() as out, pytest.raises(RecotapUnavailableError) as failure:
        new_tap(tap_config, state=saved, only="accounts").sync_all()

    # The message the sequential loop gives: the policy's exhaustion error, naming the request.
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


def test_records_carry_a_time_extracted_no_earlier_than_their_page(sandbox, tap_config):
    run = run_tap(tap_config, only="accounts")

    messages = [m for m in run.messages if m["type"] == "RECORD"]
    assert len(messages) == 250
    for message in messages:
        page_time = datetime.fromisoformat(message["record"]["_sdc_sync_timestamp"])
        assert datetime.fromisoformat(message["time_extracted"]) >= page_time


def test_every_page_read_logs_its_request_duration_metric_once(sandbox, tap_config, caplog):
    # A failed attempt is logged by the retry policy ("retrying in"), the page once it is read.
    sandbox.admin.set_faults(retry_after=0, script=["ok", "ok", "503:before"])

    with caplog.at_level(logging.INFO, logger="singer_sdk.metrics"):
        run_tap(tap_config, only="accounts")

    points = [
        json.loads(r.getMessage().removeprefix("METRIC: "))
        for r in caplog.records
        if '"metric":"http_request_duration"' in r.getMessage()
    ]
    assert _account_requests(sandbox) == PAGES + 1
    assert len(points) == PAGES
    assert all(p["tags"]["http_status_code"] == 200 for p in points)
    assert all(p["tags"]["status"] == "succeeded" for p in points)
    assert all(p["tags"]["endpoint"] == "/accounts" and p["value"] > 0 for p in points)
