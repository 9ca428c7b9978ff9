"""The tap's side of paging: each list response read once, and the SDK paginator on the client's
one paging rule (recotap_client.paging).

Every response body is read once, in `read_page` (cached per response), so that the
stream's `validate_response`, `parse_response` and the paginator share one parse.

Reference: docs/recotap-api.md §2.5 (pagination), §2.7 (the `domains` filter in chunks).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from singer_sdk.pagination import BaseAPIPaginator

from recotap_client import paging
from recotap_client.paging import Page, PagingRule

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    import requests


_pages: WeakKeyDictionary[requests.Response, Page] = WeakKeyDictionary()
# Responses are decoded in the prefetch thread and read in the main thread (fast_stream).
_pages_lock = threading.Lock()


def read_page(response: requests.Response) -> Page:
    """Read a successful list response (paginated object or bare array), once."""
    with _pages_lock:
        page = _pages.get(response)
    if page is None:
        page = paging.read_page(response)
        with _pages_lock:
            page = _pages.setdefault(response, page)
    return page


@dataclass(frozen=True)
class PageToken:
    """Where the next request starts: which `domains` chunk, and the cursor within it."""

    chunk: int = 0
    cursor: str | None = None


class RecotapPaginator(BaseAPIPaginator[PageToken]):
    """Keyset paging on `nextCursor` by the client's paging rule (§2.5).

    With `chunks > 1` (the `domains` filter split into requests of at most 100 domains, §2.7),
    each chunk is paged to its end before the next chunk starts from no cursor.
    """

    def __init__(self, chunks: int = 1) -> None:
        super().__init__(PageToken())
        self._chunks = max(chunks, 1)
        self._rule = PagingRule()

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
        current = self.current_value
        cursor = self._rule.next_cursor(read_page(response), response)
        if cursor is None:
            self._rule.restart()  # the next chunk's cursors start afresh
            return PageToken(chunk=current.chunk + 1)
        return PageToken(chunk=current.chunk, cursor=cursor)
