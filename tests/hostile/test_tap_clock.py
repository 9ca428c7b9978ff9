"""Issue 14 item 4: a server time the tap cannot trust never becomes the bookmark.

A `syncTimestamp` more than 10 minutes (streams.SERVER_CLOCK_TOLERANCE) ahead of the tap's
clock would make every later run ask for changes after a moment that has not come, and read
nothing. On the first page it keeps the previous bookmark (warned); the same for a first page
without `syncTimestamp`, whatever later pages say.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin_cli import (
    BOOKMARK_AFTER,
    SERVER_TIME,
    accounts_catalog,
    accounts_page,
    base_config,
    bookmark,
    previous_state,
    run_plugin,
)

PREVIOUS = "2025-11-01T00:00:00+00:00"
FAR_FUTURE = "2098-01-01T00:00:00.000Z"


def _sync(hostile, tmp_path, state=None):
    return run_plugin(
        "tap-recotap",
        base_config(hostile),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
        state=state if state is not None else previous_state(PREVIOUS),
    )


def _in(minutes: float) -> str:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _two_pages(first_time, second_time):
    return [
        accounts_page(range(3), cursor="c1", more=True, sync_timestamp=first_time),
        accounts_page(range(3, 5), cursor="c1", sync_timestamp=second_time),
    ]


def test_a_first_page_time_far_in_the_future_keeps_the_previous_bookmark(hostile, tmp_path):
    hostile.sequence("GET", "/accounts", _two_pages(FAR_FUTURE, FAR_FUTURE))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 5  # the data itself is delivered
    assert bookmark(run.last_state) == PREVIOUS
    warnings = [line for line in run.stderr_lines if "ahead of this machine's clock" in line]
    assert len(warnings) == 1
    assert "answered the first page with syncTimestamp 2098-01-01T00:00:00" in warnings[0]
    assert "more than the 10 minutes tolerated" in warnings[0]
    assert "keeps the bookmark where it was" in warnings[0]


def test_a_first_run_with_a_future_time_stores_no_bookmark(hostile, tmp_path):
    hostile.sequence("GET", "/accounts", _two_pages(FAR_FUTURE, SERVER_TIME))

    run = _sync(hostile, tmp_path, state={})

    assert run.returncode == 0, run.stderr
    assert bookmark(run.last_state) is None
    assert "keeps the bookmark where it was" in run.stderr


def test_a_first_page_without_sync_timestamp_keeps_the_bookmark_though_later_pages_have_one(
    hostile, tmp_path
):
    hostile.sequence("GET", "/accounts", _two_pages(None, SERVER_TIME))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert bookmark(run.last_state) == PREVIOUS  # not the second page's time
    assert "answered the first page without syncTimestamp; this run keeps the bookmark" in (
        run.stderr
    )


def test_a_later_page_without_sync_timestamp_leaves_the_first_pages_bookmark(hostile, tmp_path):
    hostile.sequence("GET", "/accounts", _two_pages(SERVER_TIME, None))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert bookmark(run.last_state) == BOOKMARK_AFTER
    assert "a page after the first without syncTimestamp" in run.stderr
    assert "keeps the bookmark" not in run.stderr


def test_a_later_page_far_ahead_is_warned_about_and_the_first_page_sets_the_bookmark(
    hostile, tmp_path
):
    hostile.sequence("GET", "/accounts", _two_pages(SERVER_TIME, FAR_FUTURE))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert bookmark(run.last_state) == BOOKMARK_AFTER
    assert "a page after the first with syncTimestamp 2098-01-01" in run.stderr


def test_a_server_clock_a_little_ahead_is_within_the_tolerance(hostile, tmp_path):
    # Two minutes ahead: clocks differ that much without being broken; the bookmark moves.
    ahead = _in(2)
    hostile.always("GET", "/accounts", accounts_page(range(2), sync_timestamp=ahead))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    expected = datetime.fromisoformat(ahead) - timedelta(seconds=5)
    assert bookmark(run.last_state) == expected.isoformat(timespec="microseconds")
    assert "ahead of this machine's clock" not in run.stderr


def test_a_server_clock_beyond_the_tolerance_keeps_the_bookmark(hostile, tmp_path):
    hostile.always("GET", "/accounts", accounts_page(range(2), sync_timestamp=_in(30)))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert bookmark(run.last_state) == PREVIOUS
    assert "ahead of this machine's clock" in run.stderr


def test_records_of_a_run_that_keeps_the_bookmark_are_all_written(hostile, tmp_path):
    # No page has a time: the final STATE equals the first one, and the SDK does not write an
    # unchanged STATE. The records held back for the next message must still be written.
    hostile.sequence("GET", "/accounts", _two_pages(None, None))

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert [r["rtp_aid"][-1] for r in run.records()] == ["0", "1", "2", "3", "4"]
    assert bookmark(run.last_state) == PREVIOUS
