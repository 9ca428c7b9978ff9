"""The one paging rule: reading a list page's paging fields, and walking pages by cursor.

Both plugins page the same way and fail the same way: a list page whose paging fields are
missing or malformed, "more pages" without a cursor, a repeated cursor, or empty pages that
keep saying more follow, stop the walk with a `RecotapAPIError` instead of a guess (a silent
stop would be a short read that looks complete). `hasNextPage` is the only stop signal.

Reference: docs/recotap-api.md §2.5 (pagination), §2.6 (syncTimestamp), §4.4 / §4.6
(bare-array endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import msgspec

from recotap_client.envelope import Envelope, envelope_data_json
from recotap_client.errors import RecotapAPIError
from recotap_client.failures import describe_request

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import requests

    from recotap_client.session import RecotapSession


@dataclass(frozen=True)
class Page:
    """One list response, read as far as paging needs; its records are decoded on first use.

    A read-ahead thread (`read_ahead`) reads a page's paging fields and sends the next request
    before the records are decoded (by the consumer, through `records`): that decoding is most
    of a page's parse, and it would otherwise sit between a response and the next request.
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

    Typed `Any` and checked in `read_page`, so that a wrong type is reported by field name
    (UNSET: the field is missing, as opposed to null).
    """

    data: msgspec.Raw
    nextCursor: Any = msgspec.UNSET  # noqa: N815 (the API's name)
    hasNextPage: Any = msgspec.UNSET  # noqa: N815
    syncTimestamp: Any = msgspec.UNSET  # noqa: N815


_list_page_decoder = msgspec.json.Decoder(Envelope[_ListPage])


def read_page(response: requests.Response) -> Page:
    """Read a successful list response (paginated object or bare array)."""
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


def require_paging(page: Page, response: requests.Response) -> None:
    """Refuse a bare array from a paginated endpoint: read as one page, it would end the
    paging (a short read that looks complete)."""
    if not page.paged:
        raise_malformed_page(response, "hasNextPage", "missing (no paging fields at all)")


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
    """Stop on a page whose paging fields cannot be trusted."""
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


#: Empty pages in a row that each say more follow (`hasNextPage: true`, a new cursor) before the
#: walk fails: an API that pages on forever without records must not keep a plugin busy forever,
#: and stopping at one quietly could cut the data short.
MAX_EMPTY_PAGES_IN_A_ROW = 3


class PagingRule:
    """Keyset paging on `nextCursor`, stopping only on `hasNextPage: false` (§2.5).

    Fed every page of a walk in order (`next_cursor`); `restart` begins a new walk of the same
    run (the tap's next chunk of `domains`), whose cursors start afresh.
    """

    def __init__(self) -> None:
        self.pages = 0
        self._seen: set[str] = set()
        self._empty_in_a_row = 0

    def next_cursor(self, page: Page, response: requests.Response) -> str | None:
        """The cursor of the page after `page`, or None if `page` is the last one.

        Raises RecotapAPIError when the paging cannot be trusted.
        """
        self.pages += 1
        if not page.has_next_page:
            return None
        if not page.next_cursor:
            raise RecotapAPIError(
                f"Recotap said hasNextPage but sent no nextCursor for {describe_request(response)}"
                "; stopping instead of returning a partial result."
            )
        self._count_empty_pages(page, response)
        if page.next_cursor in self._seen:
            raise RecotapAPIError(
                f"Recotap repeated the cursor {page.next_cursor!r} for "
                f"{describe_request(response)} after {self.pages} pages; stopping instead of "
                "looping forever."
            )
        self._seen.add(page.next_cursor)
        return page.next_cursor

    def restart(self) -> None:
        """Begin a new walk: its cursors may be any the previous walk saw."""
        self._seen.clear()
        self._empty_in_a_row = 0

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


def list_pages(
    session: RecotapSession,
    path: str,
    *,
    limit: int,
    filters: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """Every page of the paginated list at `path`, in order, `limit` records per request;
    `filters` (query parameters such as `lastSync`) go with every request."""
    rule = PagingRule()
    params: dict[str, Any] = {**(filters or {}), "limit": limit}
    while True:
        page, response = session.get_page(path, params)
        require_paging(page, response)
        yield page
        cursor = rule.next_cursor(page, response)
        if cursor is None:
            return
        params = {**(filters or {}), "limit": limit, "cursor": cursor}
