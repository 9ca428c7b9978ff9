"""Reading a list response: the paging fields at once, the records only when they are used.

Bodies the sandbox never sends (truncated, not the envelope, an unknown `data` shape) cannot
come over HTTP, so these tests hand `read_page` responses built in memory.
"""

from __future__ import annotations

import pytest
import requests

from recotap_client.errors import RecotapAPIError, RecotapRetriableError
from recotap_client.paging import read_page


def _response(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.request = requests.Request("GET", "https://api.example/api/v1/accounts").prepare()
    return response


def test_a_paginated_page_gives_its_paging_fields_and_records():
    page = read_page(
        _response(
            b'{"status": 200, "data": {"data": [{"rtp_aid": "a1"}, {"rtp_aid": "a2"}],'
            b' "nextCursor": "c2", "hasNextPage": true, "syncTimestamp": "2026-11-01T10:00:00Z"}}'
        )
    )
    assert (page.has_next_page, page.next_cursor) == (True, "c2")
    assert page.sync_timestamp is not None
    assert page.sync_timestamp.isoformat() == "2026-11-01T10:00:00+00:00"
    assert not page.is_empty
    assert page.records == [{"rtp_aid": "a1"}, {"rtp_aid": "a2"}]


def test_a_bare_array_is_one_page_of_records():
    page = read_page(_response(b'{"data": [ {"key": "industry"} ]}'))
    assert (page.has_next_page, page.next_cursor, page.sync_timestamp) == (False, None, None)
    assert page.records == [{"key": "industry"}]


@pytest.mark.parametrize("records", [b"[]", b"[ ]", b"[\n\t ]"])
def test_an_empty_page_is_seen_without_decoding_it(records):
    page = read_page(_response(b'{"data": {"data": ' + records + b', "hasNextPage": false}}'))
    assert page.is_empty
    assert page.records == []


def test_a_last_page_keeps_its_cursor_but_says_no_more():
    # §2.5: hasNextPage is the only stop signal; a non-null nextCursor may come with false.
    page = read_page(_response(b'{"data": {"data": [], "nextCursor": "x", "hasNextPage": false}}'))
    assert (page.has_next_page, page.next_cursor) == (False, "x")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": {"data": [{"rtp_aid": "a1"},', "unreadable body"),
        (b"", "unreadable body"),
        (b"<html>Bad gateway</html>", "unreadable body"),
        (b'{"message": "ok"}', "without the response envelope"),
        (b'[{"rtp_aid": "a1"}]', "without the response envelope"),
    ],
)
def test_a_body_that_is_not_the_envelope_is_retriable(body, message):
    with pytest.raises(RecotapRetriableError, match=message):
        read_page(_response(body))


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        (b"null", "NoneType"),
        (b'"text"', "str"),
        (b'{"items": []}', "dict"),
        (b'{"data": 5}', "dict"),
    ],
)
def test_an_unknown_data_shape_is_an_error_that_names_it(data, shape):
    with pytest.raises(RecotapAPIError, match=rf"unexpected `data` shape \({shape}\)"):
        read_page(_response(b'{"data": ' + data + b"}"))


def test_records_are_decoded_once():
    page = read_page(_response(b'{"data": {"data": [{"rtp_aid": "a1"}], "hasNextPage": false}}'))
    assert page.records is page.records
