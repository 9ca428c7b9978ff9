"""The one base stream of the tap: records from the Recotap client's pages.

A stream lists its endpoint's pages with `recotap_client` (the session: retries, Retry-After,
the 429 pause, timeouts, no redirects; `paging.list_pages`: the one paging rule) and yields the
records of each page from the SDK's public hook, `get_records`. The pages are read one page
ahead (`recotap_client.read_ahead`): the next page's request is on its way while the SDK writes
the current page's records. Everything after `get_records` is the SDK's own: RECORD messages
through the stream maps, state, the msgspec writer (`TapRecotap.message_writer_class`).
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream, metrics
from singer_sdk.helpers.conform import TypeConformanceLevel

from recotap_client.paging import list_pages
from recotap_client.read_ahead import ReadAhead
from tap_recotap.output import RecordBlockWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from recotap_client.paging import Page
    from recotap_client.session import RecotapSession


class RecotapStream(Stream):
    """Base class of every Recotap stream: one GET list endpoint under `api_url`."""

    #: The endpoint, under `api_url`.
    path: ClassVar[str]
    #: False for the bare-array endpoints (§4.4, §4.6): one request, no `cursor`.
    paginated: ClassVar[bool] = True
    #: Read the next page while the current one is written. Off, the pages are fetched one
    #: after another in the sync's own thread (the benchmarks' SDK-default comparison).
    read_ahead: bool = True

    # Records are decoded from JSON, so they hold only JSON types and the SDK's conformance
    # (RECURSIVE by default) has nothing to convert: it turns datetimes, bytes and the like into
    # strings, NaN/Infinity (not JSON) into null, integers into booleans for boolean-only
    # properties. It never coerces nor rejects a value of the wrong type (a string in a `number`
    # custom field passes unchanged at every level). What it would still do, drop top-level keys
    # the schema does not declare, `post_process` does.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self, tap: Tap, session: RecotapSession, schema: dict[str, Any] | None = None
    ) -> None:
        super().__init__(tap, schema=schema)
        self.session = session
        self.output = tap.message_writer
        self._undeclared_warned: set[frozenset[str]] = set()

    @property
    def page_size(self) -> int:
        """The `limit` sent to paginated endpoints (the tap refuses values above 500)."""
        return int(self.config["page_size"])

    def list_filters(self, context: Context | None) -> list[dict[str, Any]]:
        """The query filters of each walk through the list: one walk without filters here.

        Each walk is paged to its end before the next starts from the first page.
        """
        return [{}]

    def pages(self, context: Context | None) -> Iterator[Page]:
        """This stream's pages, in order (they are fetched as this iterator is advanced)."""
        if not self.paginated:
            return self._single_page()
        return self._walks(self.list_filters(context))

    def _walks(self, filters: list[dict[str, Any]]) -> Iterator[Page]:
        for walk in filters:
            yield from list_pages(self.session, self.path, limit=self.page_size, filters=walk)

    def _single_page(self) -> Iterator[Page]:
        page, _ = self.session.get_page(self.path, self.single_page_query())
        yield page

    def single_page_query(self) -> Mapping[str, Any] | None:
        """The query of a bare-array endpoint's one request."""
        return None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        pages = self._timed(self.pages(context))
        with ExitStack() as stack:
            if self.read_ahead:
                pages = stack.enter_context(ReadAhead(pages, name=f"{self.name}-read-ahead"))
            for page in pages:
                yield from self.page_records(page)
                # Here the SDK has written the page's records; they reach stdout before the wait
                # for the next page (the writer holds RECORD lines in a block). A run that ends
                # mid-page (a failure, a signal) may leave some unwritten: no STATE covers them
                # (a STATE writes the block out first), so the next run reads them again.
                self._write_out()

    def _write_out(self) -> None:
        """Write the RECORD lines the tap's writer holds (tap_recotap/output.py) to stdout."""
        if isinstance(self.output, RecordBlockWriter):
            self.output.flush()

    def page_records(self, page: Page) -> Iterable[dict[str, Any]]:
        """The records of one page, as this stream yields them."""
        return page.records

    def _timed(self, pages: Iterator[Page]) -> Iterator[Page]:
        """`pages`, logging the SDK's request-duration METRIC for each (retries included)."""
        while True:
            started = time.perf_counter()
            page = next(pages, None)
            if page is None:
                return
            point = metrics.Point(
                "timer",
                metric=metrics.Metric.HTTP_REQUEST_DURATION,
                value=time.perf_counter() - started,
                tags={
                    metrics.Tag.STREAM: self.name,
                    metrics.Tag.ENDPOINT: self.path,
                    metrics.Tag.HTTP_STATUS_CODE: 200,
                    metrics.Tag.STATUS: metrics.Status.SUCCEEDED,
                },
            )
            metrics.log(self.metrics_logger, point)
            yield page

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        # What the SDK's conformance would still do to a JSON record (see
        # TYPE_CONFORMANCE_LEVEL): drop top-level keys the catalog's schema does not declare
        # (a field the API added after discovery), warning once per set of keys, in the SDK's
        # words. One set comparison per record when there are none.
        schema = self.effective_schema
        declared = schema["properties"].keys()
        if row.keys() <= declared or schema.get("additionalProperties"):
            return row
        undeclared = row.keys() - declared
        key = frozenset(undeclared)
        if key not in self._undeclared_warned:
            self._undeclared_warned.add(key)
            self.logger.warning(
                "Properties %s were present in the '%s' stream but not found in catalog "
                "schema. Ignoring.",
                tuple(sorted(undeclared)),
                self.name,
            )
        for name in undeclared:
            del row[name]
        return row
