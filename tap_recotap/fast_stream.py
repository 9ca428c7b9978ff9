"""Where the tap departs from the SDK's stream machinery, for speed: prefetching, lean records.

Two SDK steps are replaced, each keeping the SDK's observable behaviour (singer-sdk 0.54.9):

- the page loop (`RESTStream.request_records`) sends the request for the next page in a
  background thread while the current page's records are written (one request ahead at most);
- the RECORD message of a record (`Stream._generate_record_messages`) skips the steps that cannot
  change a record decoded from JSON: type conformance (level NONE, see `TYPE_CONFORMANCE_LEVEL`)
  and, when the catalog deselects nothing, the walk that removes deselected properties.

Measured effect and the reasoning: docs/tap.md "Performance".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream

from tap_recotap.output import RecotapWriter
from tap_recotap.prefetch import BackgroundCaller

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator
    from concurrent.futures import Future

    import requests
    from singer_sdk.helpers.types import Context, Record

_TToken = TypeVar("_TToken")
_END: Any = object()  # "this page has no records"


@dataclass(frozen=True)
class _Fetched:
    """One page's request and response, and when the response arrived."""

    request: requests.PreparedRequest
    response: requests.Response
    received_at: datetime


class FastRESTStream(RESTStream[_TToken]):
    """A `RESTStream` that fetches one page ahead and writes JSON records without conformance."""

    # Records are decoded from JSON, so they hold only JSON types, and the SDK's conformance
    # (RECURSIVE by default) has nothing to convert: it turns datetimes, bytes and the like into
    # strings, NaN/Infinity (not JSON) into null, and integers into booleans for boolean-only
    # properties. It neither coerces nor rejects a value of the wrong type: a string in a
    # `number` custom field passes unchanged at every level. The one thing it would still do,
    # drop top-level keys the schema does not declare, `post_process` does.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # When the page whose records are being written arrived: their `time_extracted`.
    _time_extracted: datetime | None = None
    # (mask, whether it deselects a property): `mask` is rebuilt when selection changes.
    _deselection: tuple[object, bool] = (None, False)

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The SDK's page loop (0.54.9 `RESTStream.request_records`), one request ahead.

        The next page's request is sent, in a background thread, as soon as this page's response
        is read, and awaited only once this page's records are written: at most one request in
        flight and one page waiting. It is the same retried request as the SDK's, so its
        retries, waits and final error are unchanged, and the error is raised after the previous
        page's records, where the sequential loop raises it.
        """
        with (
            self.get_http_request_counter() as request_counter,
            BackgroundCaller[_Fetched](name=f"{self.name}-prefetch") as background,
        ):
            request_counter.with_context(context)
            try:
                yield from self._pages(context, background, request_counter.increment)
            except BaseException:
                # Records this run read before failing are written, as the SDK's writer would
                # have, before the error ends the run.
                self._flush_records()
                raise

    def _pages(
        self,
        context: Context | None,
        background: BackgroundCaller[_Fetched],
        count_request: Callable[[], None],
    ) -> Iterator[dict[str, Any]]:
        paginator: BaseAPIPaginator[Any] = self.get_new_paginator() or SinglePagePaginator()
        fetch = self._fetcher(context)
        pending: Future[_Fetched] | None = background.submit(
            fetch, self._prepare_request(context=context, page=paginator)
        )
        pages = 0
        while pending is not None:
            fetched = pending.result()
            count_request()
            self.update_sync_costs(fetched.request, fetched.response, context)
            records = iter(self.parse_response(fetched.response))
            first = next(records, _END)
            if first is _END and not paginator.continue_if_empty(fetched.response):
                self.log(
                    "Pagination stopped after %d pages because no records were found in the "
                    "last response",
                    pages,
                )
                return
            pending = None
            try:
                paginator.advance(fetched.response)
            except Exception:
                # A repeated cursor or a missing one: raised after this page's records, as by
                # the SDK's loop, which advances only then.
                yield from self._records(fetched, first, records)
                raise
            if not paginator.finished:
                request = self._prepare_request(context=context, page=paginator)
                pending = background.submit(fetch, request)
            if first is not _END:
                yield from self._records(fetched, first, records)
                pages += 1

    def _fetcher(self, context: Context | None) -> Callable[[requests.PreparedRequest], _Fetched]:
        """The retried request for one page, as the background thread runs it."""
        request = self.request_decorator(self._request)

        def fetch(prepared: requests.PreparedRequest) -> _Fetched:
            response = request(prepared, context)
            return _Fetched(prepared, response, datetime.now(timezone.utc))

        return fetch

    def _records(
        self, fetched: _Fetched, first: Any, rest: Iterator[dict[str, Any]]
    ) -> Iterator[dict[str, Any]]:
        if first is _END:
            return
        self._time_extracted = fetched.received_at
        yield first
        yield from rest

    def _flush_records(self) -> None:
        writer = self._tap.message_writer
        if isinstance(writer, RecotapWriter):
            writer.flush()

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        # What the SDK's conformance would still do to a JSON record (see TYPE_CONFORMANCE_LEVEL):
        # drop top-level keys the catalog's schema does not declare (a field the API added after
        # discovery), warning once. One set comparison per record when there are none.
        schema = self.effective_schema
        if row.keys() <= schema["properties"].keys():
            return row
        return conform_record_data_types(
            stream_name=self.name,
            record=row,
            schema=schema,
            level=TypeConformanceLevel.ROOT_ONLY,
            logger=self.logger,
        )

    @override
    def _generate_record_messages(self, record: Record) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages (0.54.9 `Stream._generate_record_messages`), shortened.

        Skipped when they cannot change the record: the walk removing deselected properties when
        nothing is deselected, and type conformance at level NONE. `time_extracted` is when the
        record's page arrived (the SDK stamps the moment it writes the record).
        """
        if self.TYPE_CONFORMANCE_LEVEL is not TypeConformanceLevel.NONE:
            yield from super()._generate_record_messages(record)  # e.g. benchmarks/default_sdk_tap
            return
        if self._deselects_properties():
            pop_deselected_record_properties(record, self.schema, self.mask)
        extracted = self._time_extracted or datetime.now(timezone.utc)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )

    def _deselects_properties(self) -> bool:
        """Whether the catalog deselects any property of this stream."""
        mask = self.mask
        if self._deselection[0] is not mask:
            self._deselection = (mask, not all(mask[crumb] for crumb in mask if crumb))
        return self._deselection[1]
