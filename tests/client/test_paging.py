"""The paging rule, in-process over loopback HTTP (docs/recotap-api.md §2.5, §2.6, §4.4, §4.6).

What tests/hostile/test_tap_paging.py checks through `tap-recotap`, checked here on
`recotap_client.paging` itself, word for word: which page is named in an error, which field and
which value; when a walk ends, when it fails, and what each request asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from recotap_client.errors import RecotapAPIError
from recotap_client.paging import MAX_EMPTY_PAGES_IN_A_ROW, PagingRule, list_pages, parse_timestamp
from tests.hostile.hostile_server import Reply, Request

STOP = (
    "Stopping rather than guessing whether more pages follow: the run fails without moving "
    "the bookmark, so the next run reads these pages again."
)


def page(records: list, more: bool, cursor: str | None = None, **fields) -> Reply:
    """A list page as the API sends it (§2.5)."""
    return Reply.envelope({"data": records, "hasNextPage": more, "nextCursor": cursor, **fields})


def pages_by_cursor(hostile, replies: dict[str | None, Reply]) -> None:
    """Answer GET /segments by the request's cursor (None: the first page)."""

    def answer(request: Request) -> Reply:
        return replies[request.query.get("cursor", [None])[0]]

    hostile.route("GET", "/segments", answer)


def walk(session) -> list[list[dict]]:
    return [p.records for p in list_pages(session, "/segments", limit=2)]


def malformed(session) -> str:
    with pytest.raises(RecotapAPIError) as failure:
        walk(session)
    return str(failure.value)


def test_a_walk_follows_every_cursor_until_has_next_page_is_false(hostile, session):
    pages_by_cursor(
        hostile,
        {
            None: page([{"id": 1}, {"id": 2}], True, "c2"),
            "c2": page([{"id": 3}], True, "c3"),
            # §2.5: the last page may still carry a cursor; hasNextPage alone stops the walk.
            "c3": page([{"id": 4}], False, "c4"),
        },
    )

    assert walk(session) == [[{"id": 1}, {"id": 2}], [{"id": 3}], [{"id": 4}]]
    assert [r.query for r in hostile.requests_to("GET", "/segments")] == [
        {"limit": ["2"]},
        {"limit": ["2"], "cursor": ["c2"]},
        {"limit": ["2"], "cursor": ["c3"]},
    ]


def test_a_page_is_read_with_its_paging_fields_and_sync_timestamp(hostile, session):
    hostile.always(
        "GET", "/accounts", page([{"id": 1}], True, "c2", syncTimestamp="2026-05-01T10:00:00Z")
    )

    read, response = session.get_page("/accounts", {"limit": 1})

    assert read.records == [{"id": 1}]
    assert read.is_empty is False
    assert (read.has_next_page, read.next_cursor, read.paged) == (True, "c2", True)
    assert read.sync_timestamp == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert response.status_code == 200
    assert response.request.url == f"{hostile.api_url}/accounts?limit=1"


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_on_the_last_page_ends_the_walk(hostile, session, cursor):
    pages_by_cursor(hostile, {None: page([{"id": 1}], False, cursor)})

    assert walk(session) == [[{"id": 1}]]
    read, _ = session.get_page("/segments")
    assert read.next_cursor is None


@pytest.mark.parametrize("cursor", [None, ""])
def test_more_pages_without_a_cursor_fail_the_walk(hostile, session, cursor):
    pages_by_cursor(hostile, {None: page([{"id": 1}], True, cursor)})

    assert malformed(session) == (
        "Recotap said hasNextPage but sent no nextCursor for GET /api/v1/segments; stopping "
        "instead of returning a partial result."
    )


def test_a_repeated_cursor_fails_the_walk_naming_it_and_the_pages_read(hostile, session):
    pages_by_cursor(
        hostile,
        {
            None: page([{"id": 1}], True, "c2"),
            "c2": page([{"id": 2}], True, "c3"),
            "c3": page([{"id": 3}], True, "c2"),
        },
    )

    assert malformed(session) == (
        "Recotap repeated the cursor 'c2' for GET /api/v1/segments after 3 pages; stopping "
        "instead of looping forever."
    )


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "hasNextPage is missing"),
        ({"hasNextPage": "true"}, 'hasNextPage is "true", not true or false'),
        ({"hasNextPage": None}, "hasNextPage is null, not true or false"),
        ({"hasNextPage": 1}, "hasNextPage is 1, not true or false"),
        ({"hasNextPage": False, "nextCursor": 7}, "nextCursor is 7, not a string"),
        (
            {"hasNextPage": False, "syncTimestamp": 1700000000},
            "syncTimestamp is 1700000000, not a time",
        ),
        (
            {"hasNextPage": False, "syncTimestamp": "yesterday"},
            'syncTimestamp is "yesterday", not a time',
        ),
        # A wrong value is quoted up to 60 characters (its JSON text), then cut.
        (
            {"hasNextPage": "x" * 58},
            f'hasNextPage is "{"x" * 58}", not true or false',
        ),
        (
            {"hasNextPage": "x" * 59},
            f'hasNextPage is "{"x" * 56}..., not true or false',
        ),
    ],
)
def test_a_malformed_paging_field_is_named_with_its_value_and_the_first_page(
    hostile, session, fields, problem
):
    hostile.always("GET", "/segments", Reply.envelope({"data": [{"id": 1}], **fields}))

    assert malformed(session) == (
        f"Recotap sent a malformed page (GET /api/v1/segments, the first page): {problem}. {STOP}"
    )


def test_a_malformed_later_page_is_named_by_the_cursor_that_asked_for_it(hostile, session):
    pages_by_cursor(
        hostile,
        {None: page([{"id": 1}], True, "c2"), "c2": Reply.envelope({"data": [{"id": 2}]})},
    )

    assert malformed(session) == (
        "Recotap sent a malformed page (GET /api/v1/segments, the page after cursor 'c2'): "
        f"hasNextPage is missing. {STOP}"
    )


def test_a_bare_array_is_one_unpaged_page_that_a_paged_walk_refuses(hostile, session):
    hostile.always("GET", "/segments", Reply.envelope([{"id": 1}, {"id": 2}]))

    read, _ = session.get_page("/segments")
    assert (read.records, read.paged, read.has_next_page, read.next_cursor) == (
        [{"id": 1}, {"id": 2}],
        False,
        False,
        None,
    )
    assert read.sync_timestamp is None
    assert malformed(session) == (
        "Recotap sent a malformed page (GET /api/v1/segments, the first page): hasNextPage is "
        f"missing (no paging fields at all). {STOP}"
    )


@pytest.mark.parametrize(
    ("data", "shape"), [({"items": []}, "dict"), ("none", "str"), (3, "int"), (None, "NoneType")]
)
def test_data_that_is_neither_a_page_nor_an_array_is_refused_by_its_shape(
    hostile, session, data, shape
):
    hostile.always("GET", "/segments", Reply.envelope(data))

    with pytest.raises(RecotapAPIError) as failure:
        session.get_page("/segments")
    assert str(failure.value) == (
        f"Recotap answered GET /api/v1/segments with an unexpected `data` shape ({shape}); the "
        "API may have changed. No records were read from it."
    )


@pytest.mark.parametrize("empty", ["[]", "[ ]", "[\n\t\r ]"])
def test_empty_pages_that_keep_saying_more_follow_fail_on_the_third(hostile, session, empty):
    def answer(request: Request) -> Reply:
        number = int(request.query.get("cursor", ["0"])[0])
        body = f'{{"data": {{"data": {empty}, "hasNextPage": true, "nextCursor": "{number + 1}"}}}}'
        return Reply(200, body.encode(), {"Content-Type": "application/json"})

    hostile.route("GET", "/segments", answer)

    assert malformed(session) == (
        f"Recotap sent {MAX_EMPTY_PAGES_IN_A_ROW} empty pages in a row, each saying more follow "
        "(hasNextPage true, a new nextCursor), up to GET /api/v1/segments, the page after "
        "cursor '2'; stopping instead of paging on without end. The run fails and the bookmark "
        "does not move."
    )
    assert len(hostile.requests_to("GET", "/segments")) == MAX_EMPTY_PAGES_IN_A_ROW


def test_a_page_with_records_resets_the_count_of_empty_pages(hostile, session):
    pages_by_cursor(
        hostile,
        {
            None: page([], True, "a"),
            "a": page([], True, "b"),
            "b": page([{"id": 1}], True, "c"),
            "c": page([], True, "d"),
            "d": page([], True, "e"),
            "e": page([{"id": 2}], False),
        },
    )

    assert walk(session) == [[], [], [{"id": 1}], [], [], [{"id": 2}]]


def test_a_restarted_walk_accepts_cursors_and_empty_pages_the_previous_walk_saw(hostile, session):
    pages_by_cursor(hostile, {None: page([], True, "c1"), "c1": page([], True, "c2")})
    rule = PagingRule()

    def read_two() -> list[str | None]:
        first, first_answer = session.get_page("/segments")
        second, second_answer = session.get_page("/segments", {"cursor": "c1"})
        return [rule.next_cursor(first, first_answer), rule.next_cursor(second, second_answer)]

    assert read_two() == ["c1", "c2"]
    rule.restart()
    # The same cursors again, and two more empty pages: four in all, but two per walk.
    assert read_two() == ["c1", "c2"]
    assert rule.pages == 4


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01T10:00:00z", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01T10:00:00", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        # Python reads a Z after a time itself, not after a bare date.
        ("2026-05-01Z", datetime(2026, 5, 1, tzinfo=UTC)),
        (
            "2026-05-01T10:00:00+02:00",
            datetime(2026, 5, 1, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_timestamps_are_read_as_utc_unless_they_name_their_offset(text, moment):
    parsed = parse_timestamp(text)

    assert parsed == moment
    assert parsed.utcoffset() == moment.utcoffset()
