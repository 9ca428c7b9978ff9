"""Reading Recotap list pages, and the keyset paginator that walks them.

Every response body is read once, in `read_page` (cached per response), so that the
stream's `validate_response`, `parse_response` and the paginator share one parse.

Reference: ../shared/recotap-api.md §2.5 (pagination), §2.6 (syncTimestamp), §4.4 / §4.6
(bare-array endpoints).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, urlsplit
from weakref import WeakKeyDictionary

import msgspec
from singer_sdk.pagination import BaseAPIPaginator

from tap_recotap.http_failures import describe_request
from tap_recotap.http_policy import (
    Envelope,
    RecotapAPIError,
    envelope_data_json,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Page:
    """One list response, read as far as paging needs; its records are decoded on first use.

    The prefetch thread reads a page's paging fields and sends the next request before the
    records are decoded (in the main thread, by `records`): that decoding is most of a page's
    parse, and it would otherwise sit between a response and the next request (fast_stream).
    """

    records_json: msgspec.Raw
    has_next_page: bool = False
    next_cursor: str | None = None
    sync_timestamp: datetime | None = None
    #: False for a bare array (§4.4, §4.6): no paging fields at all.
    paged: bool = True

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The page's records, decoded (once)."""
        records: list[dict[str, Any]] = msgspec.json.decode(self.records_json)
        return records

    @property
    def is_empty(self) -> bool:
        """Whether the page holds no record, read without decoding the records."""
        # `records_json` is exactly a JSON array: `[`, whitespace, then `]` or the first value.
        for byte in memoryview(self.records_json)[1:]:
            if byte not in _JSON_WHITESPACE:
                return byte == _CLOSING_BRACKET
        return False


_JSON_WHITESPACE = b" \t\r\n"
_OPENING_BRACKET, _CLOSING_BRACKET = ord("["), ord("]")


class _ListPage(msgspec.Struct):
    """The paging fields of a list response's `data` (§2.5, §2.6); its records left as JSON.

    Typed `Any` and checked in `_read_page`, so that a wrong type is reported by field name
    (UNSET: the field is missing, as opposed to null).
    """

    data: msgspec.Raw
    nextCursor: Any = msgspec.UNSET  # noqa: N815 (the API's name)
    hasNextPage: Any = msgspec.UNSET  # noqa: N815
    syncTimestamp: Any = msgspec.UNSET  # noqa: N815


_list_page_decoder = msgspec.json.Decoder(Envelope[_ListPage])

_pages: WeakKeyDictionary[requests.Response, Page] = WeakKeyDictionary()
# Responses are decoded in the prefetch thread and read in the main thread (fast_stream).
_pages_lock = threading.Lock()


def read_page(response: requests.Response) -> Page:
    """Read a successful list response (paginated object or bare array), once."""
    with _pages_lock:
        page = _pages.get(response)
    if page is None:
        page = _read_page(response)
        with _pages_lock:
            page = _pages.setdefault(response, page)
    return page


def _read_page(response: requests.Response) -> Page:
    listed = _read_list_page(response.content)
    if listed is None:
        # Not a paginated list: a bare array (§4.4, §4.6: no paging), or an error.
        data = envelope_data_json(response)  # raises for a body that is not the envelope
        if not _is_array(data):
            shape = type(msgspec.json.decode(data)).__name__
            raise RecotapAPIError(
                f"Recotap answered {describe_request(response)} with an unexpected `data` "
                f"shape ({shape}); the API may have changed. No records were read from it."
            )
        return Page(records_json=data, paged=False)
    return Page(
        records_json=listed.data,
        # §2.5: hasNextPage is the only stop signal (nextCursor may stay set on the last page).
        has_next_page=_has_next_page(listed.hasNextPage, response),
        next_cursor=_next_cursor(listed.nextCursor, response),
        sync_timestamp=_parse_sync_timestamp(listed.syncTimestamp, response),
    )


def _has_next_page(value: Any, response: requests.Response) -> bool:
    # Anything but a JSON boolean is an error: read as "no more pages" (as `is True` did), a
    # missing or quoted "true" ended the sync after one page and still moved the bookmark.
    if not isinstance(value, bool):
        raise_malformed_page(
            response, "hasNextPage", _not_what_was_expected(value, "true or false")
        )
    return value


def _next_cursor(value: Any, response: requests.Response) -> str | None:
    if value is msgspec.UNSET or value is None or value == "":
        return None
    if not isinstance(value, str):
        raise_malformed_page(response, "nextCursor", _not_what_was_expected(value, "a string"))
    return value


_SHOWN_AT_MOST = 60  # characters of a wrong value quoted in an error


def _not_what_was_expected(value: Any, expected: str) -> str:
    if value is msgspec.UNSET:
        return "missing"
    shown = msgspec.json.encode(value).decode()
    if len(shown) > _SHOWN_AT_MOST:
        shown = shown[: _SHOWN_AT_MOST - 3] + "..."
    return f"{shown}, not {expected}"


def describe_page(response: requests.Response) -> str:
    """Which page a response is: `GET /accounts, the first page` or `..., the page after
    cursor 'c2'` (the cursor is the API's own, opaque, never a secret)."""
    query = parse_qs(urlsplit(response.request.url or "").query)
    cursor = query.get("cursor")
    which = f"the page after cursor {cursor[0]!r}" if cursor else "the first page"
    return f"{describe_request(response)}, {which}"


def raise_malformed_page(response: requests.Response, field: str, problem: str) -> NoReturn:
    """Stop the sync on a page whose paging fields cannot be trusted."""
    raise RecotapAPIError(
        f"Recotap sent a malformed page ({describe_page(response)}): {field} is {problem}. "
        "Stopping rather than guessing whether more pages follow: the run fails without moving "
        "the bookmark, so the next run reads these pages again."
    )


def _read_list_page(body: bytes) -> _ListPage | None:
    """The `data` of a paginated list response (an object whose `data` is an array), read in
    one pass over the body; None for any other body."""
    try:
        listed = _list_page_decoder.decode(body).data
    except msgspec.DecodeError:
        return None
    return listed if _is_array(listed.data) else None


def _is_array(json_text: msgspec.Raw) -> bool:
    return memoryview(json_text)[0] == _OPENING_BRACKET  # a JSON value is never empty


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 date or datetime (a trailing Z allowed); naive values are UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_sync_timestamp(value: Any, response: requests.Response) -> datetime | None:
    if value is msgspec.UNSET or value is None:
        return None  # the stream decides what a page without a time means
    if not isinstance(value, str):
        raise_malformed_page(response, "syncTimestamp", _not_what_was_expected(value, "a time"))
    try:
        return parse_timestamp(value)
    except ValueError:
        raise_malformed_page(response, "syncTimestamp", _not_what_was_expected(value, "a time"))


@dataclass(frozen=True)
class PageToken:
    """Where the next request starts: which `domains` chunk, and the cursor within it."""

    chunk: int = 0
    cursor: str | None = None


#: Empty pages in a row that each say more follow (`hasNextPage: true`, a new cursor) before the
#: run fails: an API that pages on forever without records must not keep the tap busy forever,
#: and stopping at one quietly could cut the data short.
MAX_EMPTY_PAGES_IN_A_ROW = 3


class RecotapPaginator(BaseAPIPaginator[PageToken]):
    """Keyset paging on `nextCursor`, stopping only on `hasNextPage: false` (§2.5).

    With `chunks > 1` (the `domains` filter split into requests of at most 100 domains, §2.7),
    each chunk is paged to its end before the next chunk starts from no cursor.
    """

    def __init__(self, chunks: int = 1) -> None:
        super().__init__(PageToken())
        self._chunks = max(chunks, 1)
        self._seen: set[PageToken] = set()
        self._empty_in_a_row = 0

    @override
    def has_more(self, response: requests.Response) -> bool:
        return read_page(response).has_next_page or self.current_value.chunk + 1 < self._chunks

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        # An empty page is not the end while the API says there is more (or chunks remain):
        # the SDK would otherwise stop at it and silently return a partial result.
        return self.has_more(response)

    @override
    def get_next(self, response: requests.Response) -> PageToken:
        page = read_page(response)
        current = self.current_value
        if not page.has_next_page:
            self._empty_in_a_row = 0  # the next chunk starts afresh
            return PageToken(chunk=current.chunk + 1)
        if not page.next_cursor:
            raise RecotapAPIError(
                f"Recotap said hasNextPage but sent no nextCursor for {describe_request(response)}"
                "; stopping instead of returning a partial result."
            )
        self._count_empty_pages(page, response)
        token = PageToken(chunk=current.chunk, cursor=page.next_cursor)
        if token in self._seen:
            raise RecotapAPIError(
                f"Recotap repeated the cursor {page.next_cursor!r} for "
                f"{describe_request(response)} after {self.count} pages; stopping instead of "
                "looping forever."
            )
        self._seen.add(token)
        return token

    def _count_empty_pages(self, page: Page, response: requests.Response) -> None:
        """Fail on the MAX_EMPTY_PAGES_IN_A_ROW-th empty page in a row that says more follow."""
        self._empty_in_a_row = self._empty_in_a_row + 1 if page.is_empty else 0
        if self._empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW:
            raise RecotapAPIError(
                f"Recotap sent {self._empty_in_a_row} empty pages in a row, each saying more "
                f"follow (hasNextPage true, a new nextCursor), up to {describe_page(response)}; "
                "stopping instead of paging on without end. The run fails and the bookmark "
                "does not move."
            )
