"""Where the tap departs from the SDK's stream machinery, for speed: prefetching, lean records.

Three SDK steps are replaced, each keeping the SDK's observable behaviour (singer-sdk 0.54.9):

- the page loop (`RESTStream.request_records`) runs in a background thread that sends the next
  page's request as soon as a response is read, and hands the page to the main thread, which
  writes its records, once that request is sent (at most two pages read ahead);
- preparing and sending a request (`_prepare_request`, `_request`) skip what the next page's
  request does not need: a full preparation, a second authentication, the metric log line;
- the RECORD message of a record (`Stream._generate_record_messages`) skips the steps that cannot
  change a record decoded from JSON: type conformance (level NONE, see `TYPE_CONFORMANCE_LEVEL`)
  and, when the catalog deselects nothing, the walk that removes deselected properties.

Measured effect and the reasoning: docs/tap.md "Performance".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from requests.utils import requote_uri
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import PageContext

from tap_recotap.output import RecotapWriter
from tap_recotap.prefetch import Prefetcher
from tap_recotap.transport import after_request_sent

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    import requests
    from singer_sdk.helpers.types import Context, Record

_TToken = TypeVar("_TToken")


@dataclass(frozen=True)
class _Fetched:
    """One page's request and response, and when the response arrived."""

    request: requests.PreparedRequest
    response: requests.Response
    received_at: datetime
    # Set on an empty page that ends the paging (the SDK's `continue_if_empty`): pages before it.
    stopped_after_pages: int | None = None


class FastRESTStream(RESTStream[_TToken]):
    """A `RESTStream` that reads pages ahead and writes JSON records without conformance."""

    # Records are decoded from JSON, so they hold only JSON types, and the SDK's conformance
    # (RECURSIVE by default) has nothing to convert: it turns datetimes, bytes and the like into
    # strings, NaN/Infinity (not JSON) into null, and integers into booleans for boolean-only
    # properties. It neither coerces nor rejects a value of the wrong type: a string in a
    # `number` custom field passes unchanged at every level. The one thing it would still do,
    # drop top-level keys the schema does not declare, `post_process` does.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # When the page whose records are being written arrived: their `time_extracted`.
    _time_extracted: datetime | None = None
    # What the previous page's request was prepared from, and the request (`_prepare_request`).
    _previous_request: tuple[tuple[Any, ...], requests.PreparedRequest] | None = None
    # (mask, whether it deselects a property): `mask` is rebuilt when selection changes.
    _deselection: tuple[object, bool] = (None, False)

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The SDK's page loop (0.54.9 `RESTStream.request_records`), reading ahead.

        The page chain runs in a `Prefetcher` thread (`_fetch_pages`): each response's cursor
        is read, and the next request sent, right there, while this thread writes the records
        of earlier pages. At most two pages wait beside the one being written. The requests are
        the SDK's retried requests, so retries, waits and the final error are unchanged, and an
        error is raised after the records of every page before it, where the sequential loop
        raises it.
        """
        with (
            self.get_http_request_counter() as request_counter,
            Prefetcher[_Fetched](
                f"{self.name}-prefetch", lambda pages: self._fetch_pages(context, pages)
            ) as pages,
        ):
            request_counter.with_context(context)
            try:
                for fetched in pages:
                    request_counter.increment()
                    self._log_request_duration(fetched.request, fetched.response, context)
                    self.update_sync_costs(fetched.request, fetched.response, context)
                    self._time_extracted = fetched.received_at
                    yield from self.parse_response(fetched.response)
                    if fetched.stopped_after_pages is not None:
                        self.log(
                            "Pagination stopped after %d pages because no records were found "
                            "in the last response",
                            fetched.stopped_after_pages,
                        )
            finally:
                # The writer holds RECORD lines until the next other message (output.py). Write
                # them out now: on an error, before it ends the run (as the SDK's writer would
                # have); at the end, because the STATE that would follow is not written when it
                # is unchanged (the SDK's StateWriter), and the records would be lost at exit.
                self._flush_records()

    def page_has_records(self, response: requests.Response) -> bool:
        """Whether `parse_response` yields a record for `response`, decided in the prefetch
        thread (so without `parse_response`'s side effects). Subclasses that can tell override
        it; True keeps paging to the paginator alone."""
        return True

    def _fetch_pages(self, context: Context | None, pages: Prefetcher[_Fetched]) -> None:
        """The page chain (prefetch thread): fetch, advance the paginator, send the next request.

        Each page is handed to the main thread once the next page's request has been sent
        (`_fetch_handing_over`), so that nothing but the response's own reading stands between
        a response and the next request.
        """
        paginator: BaseAPIPaginator[Any] = self.get_new_paginator() or SinglePagePaginator()
        fetch = self._fetcher(context)
        request = self._prepare_request(context=context, page=paginator)
        previous: _Fetched | None = None
        with_records = 0
        while True:
            fetched = self._fetch_handing_over(fetch, request, previous, pages)
            if fetched is None:  # the consumer has left
                return
            response = fetched.response
            if self.page_has_records(response):
                with_records += 1
            elif not paginator.continue_if_empty(response):
                pages.put(replace(fetched, stopped_after_pages=with_records))
                return
            try:
                paginator.advance(response)
            except Exception:
                # A repeated cursor or a missing one: raised after this page's records, as by
                # the SDK's loop, which advances only then.
                pages.put(fetched)
                raise
            if paginator.finished:
                pages.put(fetched)
                return
            request = self._prepare_request(context=context, page=paginator)
            previous = fetched

    @staticmethod
    def _fetch_handing_over(
        fetch: Callable[[requests.PreparedRequest], _Fetched],
        request: requests.PreparedRequest,
        previous: _Fetched | None,
        pages: Prefetcher[_Fetched],
    ) -> _Fetched | None:
        """Fetch `request`, handing `previous` over as soon as the request is sent; None if the
        consumer has left.

        Handed over earlier, the main thread's work on `previous` delays the request (see
        tap_recotap.transport). Room is awaited before the request leaves, so at most two pages
        are read ahead. When the request is never sent (every attempt failed to connect) or the
        hook cannot run (through a proxy), `previous` is handed over after the answer.
        """
        if previous is None:
            return fetch(request)
        if not pages.wait_for_room():
            return None
        handed_over = False

        def hand_over() -> None:
            nonlocal handed_over
            handed_over = pages.put(previous)

        with after_request_sent(hand_over):
            try:
                fetched = fetch(request)
            except BaseException:
                if not handed_over:
                    pages.put(previous)
                raise
        if not handed_over and not pages.put(previous):
            return None
        return fetched

    @override
    def _prepare_request(
        self, *, context: Context | None, page: BaseAPIPaginator[Any]
    ) -> requests.PreparedRequest:
        """The SDK's request preparation (0.54.9 `RESTStream._prepare_request`), made cheap for
        a page whose request differs from the previous one only in its query string.

        Between a response and the next request, the SDK's preparation (session settings,
        cookies, headers, auth, URL) is the largest cost. When method, URL, headers and body
        are those of the previous request (and the session holds no cookies to merge), the
        previous prepared request is copied with the new query, encoded as the SDK encodes it.
        """
        http_request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=page.current_value)
        )
        same = (http_request.method, http_request.url, http_request.headers, http_request.data)
        previous = self._previous_request
        if previous is not None and previous[0] == same and not self.requests_session.cookies:
            prepared = previous[1].copy()
            query = http_request.encode_params()
            if query and not any(mark in http_request.url for mark in "?#"):
                # What `prepare_url` gives, without parsing the URL again: the previous
                # request's URL, already prepared, with this query (re-quoted as requests does).
                origin_and_path = (prepared.url or "").split("?", 1)[0]
                prepared.url = f"{origin_and_path}?{requote_uri(query)}"
            else:
                prepared.prepare_url(http_request.url, query)
        else:
            prepared = super()._prepare_request(context=context, page=page)
        self._previous_request = (same, prepared)
        return prepared

    @override
    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """The SDK's request (0.54.9 `RESTStream._request`) without two costs between pages.

        The prepared request already carries the authenticator's header (the SDK applies it
        when preparing), so it is not applied twice. The duration metric of a successful
        response is logged when the main thread takes its page (`request_records`); a failed
        one is logged here, before its error is raised (and the request perhaps retried).
        """
        response = self.requests_session.send(
            prepared_request, timeout=self.timeout, allow_redirects=self.allow_redirects
        )
        try:
            self.validate_response(response)
        except Exception:
            self._log_request_duration(prepared_request, response, context)
            raise
        return response

    def _log_request_duration(
        self,
        request: requests.PreparedRequest,
        response: requests.Response,
        context: Context | None,
    ) -> None:
        tags = {"url": request.path_url} if self._LOG_REQUEST_METRIC_URLS else None
        self._write_request_duration_log(self.path, response, context, tags)

    def _fetcher(self, context: Context | None) -> Callable[[requests.PreparedRequest], _Fetched]:
        """The retried request for one page, as the prefetch thread runs it."""
        request = self.request_decorator(self._request)

        def fetch(prepared: requests.PreparedRequest) -> _Fetched:
            response = request(prepared, context)
            return _Fetched(prepared, response, datetime.now(UTC))

        return fetch

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
        extracted = self._time_extracted or datetime.now(UTC)
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
