"""Issue 14 items 3 and 6: malformed paging fields and endless empty pages.

Never a short read that looks complete: a page whose `hasNextPage` or `nextCursor` cannot be
trusted fails the run with the field and the page named, before the bookmark moves; empty pages
that keep saying more follow fail the run after a few, instead of paging forever.
"""

from __future__ import annotations

import itertools

import pytest
from hostile_server import Reply, Request
from plugin_cli import (
    BOOKMARK_AFTER,
    SERVER_TIME,
    account,
    accounts_catalog,
    accounts_page,
    base_config,
    bookmark,
    previous_state,
    run_plugin,
)

PREVIOUS = "2025-11-01T00:00:00+00:00"


def _sync(hostile, tmp_path):
    return run_plugin(
        "tap-recotap",
        base_config(hostile),
        tmp_path=tmp_path,
        catalog=accounts_catalog(),
        state=previous_state(PREVIOUS),
    )


def _assert_failed_naming(run, field: str, page: str) -> None:
    assert run.returncode != 0
    assert f"malformed page (GET /api/v1/accounts, {page}): {field} is" in run.last_line
    assert "Traceback" not in run.stderr
    assert bookmark(run.last_state) == PREVIOUS


BAD_HAS_NEXT_PAGE = {
    "missing": ({}, "missing"),
    "a string": ({"hasNextPage": "true"}, '"true", not true or false'),
    "null": ({"hasNextPage": None}, "null, not true or false"),
    "a number": ({"hasNextPage": 1}, "1, not true or false"),
}


@pytest.mark.parametrize(
    ("fields", "shown"), BAD_HAS_NEXT_PAGE.values(), ids=BAD_HAS_NEXT_PAGE.keys()
)
def test_a_first_page_with_a_bad_has_next_page_fails_the_run(hostile, tmp_path, fields, shown):
    records = [account(n) for n in range(3)]
    page = {"data": records, "nextCursor": "c1", "syncTimestamp": SERVER_TIME, **fields}
    hostile.always("GET", "/accounts", Reply.envelope(page))

    run = _sync(hostile, tmp_path)

    _assert_failed_naming(run, "hasNextPage", "the first page")
    assert f"hasNextPage is {shown}" in run.last_line
    assert len(hostile.requests) == 1


def test_a_later_page_with_a_quoted_true_is_named_by_its_cursor(hostile, tmp_path):
    hostile.sequence(
        "GET",
        "/accounts",
        [
            accounts_page(range(3), cursor="c1", more=True),
            accounts_page(range(3, 6), cursor="c2", more="true"),
            accounts_page(range(6, 9)),
        ],
    )

    run = _sync(hostile, tmp_path)

    _assert_failed_naming(run, "hasNextPage", "the page after cursor 'c1'")
    # The first page's records were written, the malformed page's were not, nothing after it.
    assert [r["rtp_aid"][-1] for r in run.records()] == ["0", "1", "2"]
    assert len(hostile.requests) == 2


@pytest.mark.parametrize("cursor", [42, {"after": "a5"}, ["c2"], True])
def test_a_next_cursor_that_is_not_a_string_fails_the_run(hostile, tmp_path, cursor):
    hostile.sequence(
        "GET", "/accounts", [accounts_page(range(3), cursor=cursor, more=True), accounts_page([])]
    )

    run = _sync(hostile, tmp_path)

    _assert_failed_naming(run, "nextCursor", "the first page")
    assert len(hostile.requests) == 1


def test_a_bare_array_where_pages_are_expected_fails_the_run(hostile, tmp_path):
    # Read as one page, it used to end the sync there, bookmark moved: a silent short read.
    hostile.always("GET", "/accounts", Reply.envelope([{"rtp_aid": "a1"}]))

    run = _sync(hostile, tmp_path)

    _assert_failed_naming(run, "hasNextPage", "the first page")
    assert "no paging fields at all" in run.last_line


def test_a_well_formed_last_page_still_ends_the_run_and_moves_the_bookmark(hostile, tmp_path):
    # The control: the same pages, well formed, complete and move the bookmark.
    hostile.sequence(
        "GET",
        "/accounts",
        [accounts_page(range(3), cursor="c1", more=True), accounts_page(range(3, 5), cursor="c1")],
    )

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 5
    assert bookmark(run.last_state) == BOOKMARK_AFTER


def _endless_empty_pages(request: Request) -> Reply:
    number = int((request.query.get("cursor") or ["c0"])[0][1:])
    return accounts_page([], cursor=f"c{number + 1}", more=True)


def test_endless_empty_pages_fail_the_run_after_three(hostile, tmp_path, record_property):
    hostile.route("GET", "/accounts", _endless_empty_pages)

    run = _sync(hostile, tmp_path)

    assert run.returncode != 0
    assert "sent 3 empty pages in a row, each saying more follow" in run.last_line
    assert "the page after cursor 'c2'" in run.last_line
    assert len(hostile.requests) == 3
    assert bookmark(run.last_state) == PREVIOUS
    record_property(
        "reliability",
        f"hostile endless empty pages: {len(hostile.requests)} requests, exit {run.returncode}, "
        "bookmark kept",
    )


def test_empty_pages_between_full_ones_do_not_end_or_fail_the_run(hostile, tmp_path):
    # Two empty pages in a row, then records again, twice: fewer than three in a row is fine,
    # and the count starts over after a page with records.
    counter = itertools.count(1)
    pages = [range(0, 2), [], [], range(2, 4), [], [], range(4, 6)]
    replies = [accounts_page(numbers, cursor=f"c{next(counter)}", more=True) for numbers in pages]
    hostile.sequence("GET", "/accounts", [*replies, accounts_page(range(6, 7))])

    run = _sync(hostile, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 7
    assert len(hostile.requests) == 8
