"""Issue 14 item 4 in the test process: the accounts bookmark against a hostile server's clock.

tests/hostile/test_tap_clock.py checks these promises through the `tap-recotap` command;
mutation testing credits only calls made in the pytest process, so the bookmark logic of
tap_recotap/streams.py (`python3 run.py mutate tap_state`, docs/mutation.md) is checked here
again in-process, over real HTTP on loopback: a first page far ahead of this machine's clock,
or without `syncTimestamp`, keeps the previous bookmark (warned once); a later page's time never
sets the bookmark; the bookmark is the first page's time less the look-back.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tap_helpers import bookmark, run_tap

from tests.hostile.hostile_server import HostileServer, Reply

PREVIOUS = "2025-11-01T00:00:00+00:00"
FAR_FUTURE = "2098-01-01T00:00:00.000Z"
# A normal page's server time: an hour ago, well inside the tolerance.
MOMENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
NOW_ISH = MOMENT.strftime("%Y-%m-%dT%H:%M:%S.000Z")
API_KEY = "tap-state-test-key-4d2a"

pytestmark = pytest.mark.secret(API_KEY)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        server.always("GET", "/accounts/custom-fields", Reply.envelope([]))
        yield server


def _page(numbers: range, sync_timestamp: str | None, *, more: bool = False) -> Reply:
    """A GET /accounts page of these accounts (§2.5); with `more`, a cursor of its own."""
    data: dict[str, Any] = {
        "data": [
            {
                "rtp_aid": f"6552e6b4f2a74d{n:010d}",
                "externalId": f"crm-{n}",
                "name": f"Account {n}",
                "domain": f"account{n}.example.com",
                "customFields": {},
            }
            for n in numbers
        ],
        "nextCursor": f"after-{numbers[-1]}" if more else None,
        "hasNextPage": more,
    }
    if sync_timestamp is not None:
        data["syncTimestamp"] = sync_timestamp
    return Reply.envelope(data)


def _pages(*times: str | None) -> list[Reply]:
    """One page of two accounts per time, in order; all but the last say more follow."""
    return [
        _page(range(2 * i, 2 * i + 2), time, more=i < len(times) - 1)
        for i, time in enumerate(times)
    ]


def _sync(server: HostileServer, caplog: pytest.LogCaptureFixture, state: Any = None, **config):
    caplog.set_level(logging.WARNING)
    if state is None:
        state = {
            "bookmarks": {
                "accounts": {
                    "replication_key": "_sdc_sync_timestamp",
                    "replication_key_value": PREVIOUS,
                }
            }
        }
    settings = {
        "api_key": API_KEY,
        "api_url": server.api_url,
        "max_retries": 2,
        "retry_base_delay": 0.01,
        "request_timeout": 10,
        **config,
    }
    return run_tap(settings, state=state, only="accounts")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "GET /accounts answered" in r.getMessage()
    ]


def _in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _less(server_time: str, seconds: int) -> str:
    moment = datetime.fromisoformat(server_time) - timedelta(seconds=seconds)
    return moment.isoformat(timespec="microseconds")


def test_a_first_page_far_ahead_keeps_the_previous_bookmark_with_one_warning(hostile, caplog):
    hostile.sequence("GET", "/accounts", _pages(FAR_FUTURE, FAR_FUTURE, FAR_FUTURE))

    run = _sync(hostile, caplog)

    assert len(run.records("accounts")) == 6  # the data itself is delivered
    assert bookmark(run.states[-1]) == PREVIOUS
    days = (datetime(2098, 1, 1, tzinfo=UTC) - datetime.now(UTC)).days
    assert _warnings(caplog) == [
        "GET /accounts answered the first page with syncTimestamp "
        f"2098-01-01T00:00:00.000000+00:00, {days} days ahead of this machine's clock (more "
        "than the 10 minutes tolerated: check the clock of the API or of this machine); this "
        "run keeps the bookmark where it was (the next run starts from the same point, "
        "nothing is skipped)."
    ]


def test_a_first_run_with_a_first_page_far_ahead_stores_no_bookmark(hostile, caplog):
    hostile.sequence("GET", "/accounts", _pages(FAR_FUTURE, NOW_ISH))

    run = _sync(hostile, caplog, state={})

    assert len(run.records("accounts")) == 4
    assert bookmark(run.states[-1]) is None


def test_a_first_page_without_time_keeps_the_bookmark_and_later_pages_warn_nothing(hostile, caplog):
    hostile.sequence("GET", "/accounts", _pages(None, NOW_ISH, FAR_FUTURE, None))

    run = _sync(hostile, caplog)

    assert bookmark(run.states[-1]) == PREVIOUS  # not a later page's time
    assert _warnings(caplog) == [
        "GET /accounts answered the first page without syncTimestamp; this run keeps the "
        "bookmark where it was (the next run starts from the same point, nothing is skipped)."
    ]
    stamps = [r["_sdc_sync_timestamp"] for r in run.records("accounts")]
    assert stamps[:4] == [None, None, _less(NOW_ISH, 0), _less(NOW_ISH, 0)]


def test_later_pages_without_time_are_warned_about_once_and_the_first_page_sets_the_bookmark(
    hostile, caplog
):
    hostile.sequence("GET", "/accounts", _pages(NOW_ISH, None, None))

    run = _sync(hostile, caplog)

    assert bookmark(run.states[-1]) == _less(NOW_ISH, 5)
    assert _warnings(caplog) == [
        "GET /accounts answered a page after the first without syncTimestamp: its records "
        "carry no _sdc_sync_timestamp. The bookmark still comes from the first page."
    ]
    assert [r["_sdc_sync_timestamp"] for r in run.records("accounts")][2:] == [None] * 4


def test_later_pages_far_ahead_are_warned_about_once_and_the_first_page_sets_the_bookmark(
    hostile, caplog
):
    ahead = _in(150)  # "2 hours" ahead, whatever the seconds the run takes
    hostile.sequence("GET", "/accounts", _pages(NOW_ISH, ahead, ahead))

    run = _sync(hostile, caplog)

    assert bookmark(run.states[-1]) == _less(NOW_ISH, 5)
    assert _warnings(caplog) == [
        "GET /accounts answered a page after the first with syncTimestamp "
        f"{_less(ahead, 0)}, 2 hours ahead of this machine's clock (more than the 10 minutes "
        "tolerated: check the clock of the API or of this machine). The bookmark still comes "
        "from the first page."
    ]


def test_both_warnings_about_later_pages_are_given_once_each(hostile, caplog):
    hostile.sequence("GET", "/accounts", _pages(NOW_ISH, None, FAR_FUTURE, None, FAR_FUTURE))

    _sync(hostile, caplog)

    warnings = _warnings(caplog)
    assert len(warnings) == 2
    assert "without syncTimestamp" in warnings[0]
    assert "with syncTimestamp 2098-01-01" in warnings[1]


def test_a_server_clock_a_few_minutes_ahead_is_trusted(hostile, caplog):
    ahead = _in(5)
    hostile.always("GET", "/accounts", _page(range(2), ahead))

    run = _sync(hostile, caplog, lookback_seconds=7)

    assert bookmark(run.states[-1]) == _less(ahead, 7)
    assert _warnings(caplog) == []


def test_a_server_clock_beyond_the_tolerance_keeps_the_bookmark(hostile, caplog):
    # Half a minute past the 30th: "30 minutes" (rounded down) whatever the run's seconds.
    hostile.always("GET", "/accounts", _page(range(2), _in(30.5)))

    run = _sync(hostile, caplog)

    assert bookmark(run.states[-1]) == PREVIOUS
    assert ", 30 minutes ahead of this machine's clock" in _warnings(caplog)[0]


def test_a_later_page_earlier_than_the_first_sets_the_bookmark_to_its_time(hostile, caplog):
    # Pages' times are the server's time of each request: a later one earlier than the first
    # is a server clock set back during the run. The bookmark may land earlier, never later.
    earlier = (MOMENT - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    hostile.sequence("GET", "/accounts", _pages(NOW_ISH, earlier, NOW_ISH))

    run = _sync(hostile, caplog)

    assert bookmark(run.states[-1]) == _less(earlier, 5)
    assert _warnings(caplog) == []


def test_a_run_where_no_page_has_a_time_delivers_everything_and_keeps_the_bookmark(hostile, caplog):
    # The SDK then holds progress markers with no bookmark in them: nothing to take away.
    hostile.sequence("GET", "/accounts", _pages(None, None))

    run = _sync(hostile, caplog)

    assert [r["rtp_aid"][-1] for r in run.records("accounts")] == ["0", "1", "2", "3"]
    assert bookmark(run.states[-1]) == PREVIOUS


@pytest.fixture
def eastern_clock() -> Iterator[None]:
    """This machine's local time zone five hours behind UTC (a POSIX TZ: no zone files)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "EST5"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("eastern_clock")
def test_times_go_out_in_utc_whatever_the_machines_time_zone(hostile, caplog):
    hostile.sequence("GET", "/accounts", _pages(NOW_ISH, NOW_ISH))
    state = {
        "bookmarks": {
            "accounts": {
                "replication_key": "_sdc_sync_timestamp",
                "replication_key_value": "2025-11-01T08:30:15.123456+00:00",
            }
        }
    }

    run = _sync(hostile, caplog, state=state)

    # lastSync: milliseconds, truncated, UTC with a Z (§2.6), on every page.
    sent = [r.query["lastSync"] for r in hostile.requests_to("GET", "/accounts")]
    assert sent == [["2025-11-01T08:30:15.123Z"]] * 2
    # The records' time and the bookmark: UTC too (`+00:00`, as `_less` writes it).
    assert {r["_sdc_sync_timestamp"] for r in run.records("accounts")} == {_less(NOW_ISH, 0)}
    assert bookmark(run.states[-1]) == _less(NOW_ISH, 5)
