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
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import msgspec
from singer_sdk.pagination import BaseAPIPaginator

from tap_recotap.http_policy import (
    Envelope,
    RecotapAPIError,
    describe_request,
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
    """The paging fields of a list response's `data` (§2.5, §2.6); its records left as JSON."""

    data: msgspec.Raw
    nextCursor: Any = None  # noqa: N815 (the API's name)
    hasNextPage: Any = None  # noqa: N815
    syncTimestamp: Any = None  # noqa: N815


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
        return Page(records_json=data)
    cursor = listed.nextCursor
    return Page(
        records_json=listed.data,
        # §2.5: hasNextPage is the only stop signal (nextCursor may stay set on the last page).
        has_next_page=listed.hasNextPage is True,
        next_cursor=str(cursor) if cursor else None,
        sync_timestamp=_parse_sync_timestamp(listed.syncTimestamp, response),
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
    if value is None:
        return None
    try:
        return parse_timestamp(str(value))
    except ValueError as exc:
        raise RecotapAPIError(
            f"Recotap sent an unreadable syncTimestamp {value!r} to {describe_request(response)}"
        ) from exc


@dataclass(frozen=True)
class PageToken:
    """Where the next request starts: which `domains` chunk, and the cursor within it."""

    chunk: int = 0
    cursor: str | None = None


class RecotapPaginator(BaseAPIPaginator[PageToken]):
    """Keyset paging on `nextCursor`, stopping only on `hasNextPage: false` (§2.5).

    With `chunks > 1` (the `domains` filter split into requests of at most 100 domains, §2.7),
    each chunk is paged to its end before the next chunk starts from no cursor.
    """

    def __init__(self, chunks: int = 1) -> None:
        super().__init__(PageToken())
        self._chunks = max(chunks, 1)
        self._seen: set[PageToken] = set()

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
            return PageToken(chunk=current.chunk + 1)
        if not page.next_cursor:
            raise RecotapAPIError(
                f"Recotap said hasNextPage but sent no nextCursor for {describe_request(response)}"
                "; stopping instead of returning a partial result."
            )
        token = PageToken(chunk=current.chunk, cursor=page.next_cursor)
        if token in self._seen:
            raise RecotapAPIError(
                f"Recotap repeated the cursor {page.next_cursor!r} for "
                f"{describe_request(response)} after {self.count} pages; stopping instead of "
                "looping forever."
            )
        self._seen.add(token)
        return token
