"""Reading Recotap list pages, and the keyset paginator that walks them.

Every response body is decoded once, in `read_page` (cached per response), so that the
stream's `validate_response`, `parse_response` and the paginator share one parse.

Reference: ../shared/recotap-api.md §2.5 (pagination), §2.6 (syncTimestamp), §4.4 / §4.6
(bare-array endpoints).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from singer_sdk.pagination import BaseAPIPaginator

from tap_recotap.http_policy import RecotapAPIError, describe_request, envelope_data

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Page:
    """One decoded list response."""

    records: list[dict[str, Any]]
    has_next_page: bool = False
    next_cursor: str | None = None
    sync_timestamp: datetime | None = None


_pages: WeakKeyDictionary[requests.Response, Page] = WeakKeyDictionary()
# Responses are decoded in the prefetch thread and read in the main thread (fast_stream).
_pages_lock = threading.Lock()


def read_page(response: requests.Response) -> Page:
    """Decode a successful list response (paginated object or bare array), once."""
    with _pages_lock:
        page = _pages.get(response)
    if page is None:
        page = _decode_page(response)
        with _pages_lock:
            page = _pages.setdefault(response, page)
    return page


def _decode_page(response: requests.Response) -> Page:
    data = envelope_data(response)
    if isinstance(data, list):  # §4.4, §4.6: bare arrays, no paging
        return Page(records=data)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        cursor = data.get("nextCursor")
        return Page(
            records=data["data"],
            # §2.5: hasNextPage is the only stop signal (nextCursor may stay set on the last page).
            has_next_page=data.get("hasNextPage") is True,
            next_cursor=str(cursor) if cursor else None,
            sync_timestamp=_parse_sync_timestamp(data.get("syncTimestamp"), response),
        )
    raise RecotapAPIError(
        f"Recotap answered {describe_request(response)} with an unexpected `data` shape "
        f"({type(data).__name__}); the API may have changed. No records were read from it."
    )


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 date or datetime (a trailing Z allowed); naive values are UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
