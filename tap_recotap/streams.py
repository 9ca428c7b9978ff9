"""The tap's streams: short declarative classes over `RecotapStream`.

Reference: docs/recotap-api.md §4.1 (accounts), §4.4 (unmapped), §4.6 (custom fields),
§4.8 (segments), §7 (stream table).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from recotap_client.paging import parse_timestamp
from tap_recotap.client import RecotapStream
from tap_recotap.schemas import (
    CUSTOM_FIELD_SCHEMA,
    SEGMENT_SCHEMA,
    SYNC_TIMESTAMP,
    UNMAPPED_ACCOUNT_SCHEMA,
)
from tap_recotap.sdk_state import PROGRESS_MARKERS, SIGNPOST_MARKER

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from singer_sdk.helpers.types import Context

    from recotap_client.paging import Page


# §2.7: at most 100 entries in the `domains` filter of one GET /accounts.
DOMAINS_PER_REQUEST = 100
# §8 question 1: the largest `limit` the API is known to accept (the sandbox's 400 above it).
MAX_LIMIT = 500
# How far a page's syncTimestamp may be ahead of this machine's clock and still be trusted for
# the bookmark. Beyond it the server's clock is broken (or this machine's): such a time stored
# as the bookmark would make every later run ask for changes after a moment that has not come,
# and read nothing. Clocks kept by NTP differ by far less.
SERVER_CLOCK_TOLERANCE = timedelta(minutes=10)


def format_last_sync(moment: datetime) -> str:
    """`lastSync` as ISO-8601 UTC with milliseconds, truncated (never later than `moment`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AccountsStream(RecotapStream):
    """GET /accounts: accounts with scores; incremental on the server's `syncTimestamp`.

    The bookmark is the `lastSync` the next run sends, verbatim: the `syncTimestamp` of the
    first page of the last *complete* sync (§7), less `lookback_seconds`. Records carry their
    page's `syncTimestamp` as `_sdc_sync_timestamp` (the replication key), and the looked-back
    first-page time is made the SDK's signpost, the ceiling the SDK clamps the bookmark to when
    it promotes progress at the end of a complete sync. Interruption, STATE messages and the
    starting value are the SDK's own machinery. See docs/tap.md.
    """

    name = "accounts"
    path = "/accounts"
    primary_keys: ClassVar[tuple[str, ...]] = ("rtp_aid",)
    replication_key = SYNC_TIMESTAMP

    @property
    def domain_chunks(self) -> list[list[str]]:
        """The `domains` setting, de-duplicated, in requests of at most 100 (§2.7)."""
        domains = list(dict.fromkeys(self.config.get("domains") or []))
        return [
            domains[i : i + DOMAINS_PER_REQUEST]
            for i in range(0, len(domains), DOMAINS_PER_REQUEST)
        ]

    @override
    def list_filters(self, context: Context | None) -> list[dict[str, Any]]:
        # One walk per chunk of `domains` (each paged to its end), or one without the filter.
        filters: dict[str, Any] = {}
        start = self.get_starting_replication_key_value(context)
        if start:
            filters["lastSync"] = format_last_sync(parse_timestamp(start))
        chunks = self.domain_chunks
        if not chunks:
            return [filters]
        # §4.1: the domains go as a JSON array in one parameter.
        return [{**filters, "domains": json.dumps(chunk)} for chunk in chunks]

    # Per run (`get_records`): pages parsed, whether the bookmark must stay where it was, and
    # which warnings about later pages were given (once each per run).
    _pages_parsed = 0
    _keep_bookmark = False
    _warned: frozenset[str] = frozenset()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self._pages_parsed, self._keep_bookmark, self._warned = 0, False, frozenset()
        yield from super().get_records(context)
        # Here the sync is complete and the SDK is about to promote its progress markers.
        if self._keep_bookmark:
            self._drop_progress_markers()

    @override
    def page_records(self, page: Page) -> Iterable[dict[str, Any]]:
        first = self._pages_parsed == 0
        self._pages_parsed += 1
        moment = page.sync_timestamp
        if moment is not None and self._trusted_for_bookmark(moment, first=first):
            self._lower_signpost(moment - self.lookback)
        elif moment is None:
            self._warn_missing_time(first=first)
        stamp = None if moment is None else _isoformat(moment)
        records = page.records
        for record in records:
            # In place: the decoded page is this stream's own (no copy per record).
            record[SYNC_TIMESTAMP] = stamp
        return records

    def _trusted_for_bookmark(self, moment: datetime, *, first: bool) -> bool:
        """Whether a page's time may set the bookmark: not too far ahead of this machine's clock.

        A time beyond SERVER_CLOCK_TOLERANCE is warned about; on the first page it also keeps the
        bookmark where it was for this run.
        """
        ahead = moment - datetime.now(UTC)
        if ahead <= SERVER_CLOCK_TOLERANCE:
            return True
        problem = (
            f"with syncTimestamp {_isoformat(moment)}, {_duration(ahead)} ahead of this "
            f"machine's clock (more than the {_duration(SERVER_CLOCK_TOLERANCE)} tolerated: check "
            "the clock of the API or of this machine)"
        )
        if first:
            self._keep_bookmark_for_this_run(problem)
        else:
            self._warn_once("ahead", f"{problem}. The bookmark still comes from the first page.")
        return False

    def _warn_missing_time(self, *, first: bool) -> None:
        if first:
            self._keep_bookmark_for_this_run("without syncTimestamp")
        else:
            self._warn_once(
                "missing",
                "without syncTimestamp: its records carry no _sdc_sync_timestamp. The bookmark "
                "still comes from the first page.",
            )

    def _keep_bookmark_for_this_run(self, problem: str) -> None:
        # The bookmark must be the first page's time (see the class docstring): a later page's
        # time could skip changes made meanwhile to accounts already read.
        self._keep_bookmark = True
        self.logger.warning(
            "GET /accounts answered the first page %s; this run keeps the bookmark where it was "
            "(the next run starts from the same point, nothing is skipped).",
            problem,
        )

    def _warn_once(self, kind: str, text: str) -> None:
        # Once the first page has kept the bookmark, later pages' times change nothing.
        if not self._keep_bookmark and kind not in self._warned:
            self._warned |= {kind}
            self.logger.warning("GET /accounts answered a page after the first %s", text)

    def _drop_progress_markers(self) -> None:
        """Keep the bookmark the run started with: take away what the SDK would promote.

        The seam: at the end of a complete sync the SDK makes the progress markers (the largest
        `_sdc_sync_timestamp` seen) the bookmark, clamped to the signpost. Without a marker the
        state keeps its previous bookmark, or none on a first run.
        """
        markers = self.stream_state.get(PROGRESS_MARKERS)
        if markers:
            markers.pop("replication_key", None)
            markers.pop("replication_key_value", None)

    @property
    def lookback(self) -> timedelta:
        """How far before the first page's time the bookmark is set.

        §8 questions 3 and 4: whether `lastSync` is inclusive, and whether `syncTimestamp` is
        taken before or after the server's query, are unknown; a few seconds of overlap costs
        only boundary repeats and covers both.
        """
        return timedelta(seconds=int(self.config["lookback_seconds"]))

    def _lower_signpost(self, moment: datetime) -> None:
        """Make the signpost the earliest (looked-back) page time of this run: the first page's.

        The seam: the SDK promotes the largest replication-key value seen (the last page's
        time) at the end of a complete sync, clamped to the signpost. Its default signpost is
        the tap's clock at start; ours is the server's time of the first page, so changes made
        to already-read pages during the run are picked up by the next run. A signpost left
        in the state by an interrupted earlier run (SIGTERM writes the state) is earlier still
        and wins: the bookmark then lands earlier than needed, never later.
        """
        current = self.stream_state.get(SIGNPOST_MARKER)
        if current is None or moment < parse_timestamp(current):
            self.state_manager.write_replication_key_signpost(_isoformat(moment))

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        # Never the tap's clock (the SDK default): `_lower_signpost` sets it from the server.
        return None

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        # `start_date` applies only when there is no bookmark (the SDK takes the later one).
        return value


def _isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _duration(span: timedelta) -> str:
    """`12 minutes`, `5 hours`, `26297 days`: a span rounded down to its largest unit."""
    seconds = int(span.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


class SegmentsStream(RecotapStream):
    """GET /segments: static segments (active or draft); full table, cursor-paged (§4.8)."""

    name = "segments"
    path = "/segments"
    primary_keys: ClassVar[tuple[str, ...]] = ("segmentId",)
    schema = SEGMENT_SCHEMA


class CustomFieldsStream(RecotapStream):
    """GET /accounts/custom-fields: active account custom-field definitions (§4.6)."""

    name = "custom_fields"
    path = "/accounts/custom-fields"
    primary_keys: ClassVar[tuple[str, ...]] = ("key",)
    schema = CUSTOM_FIELD_SCHEMA
    paginated = False


class UnmappedAccountsStream(RecotapStream):
    """GET /accounts/missing-external-ids: accounts without externalId (§4.4).

    The endpoint has no cursor, only `limit`: one call asks for the API maximum (500). A full
    answer may mean more are waiting; they appear once the returned ones are mapped.
    """

    name = "unmapped_accounts"
    path = "/accounts/missing-external-ids"
    primary_keys: ClassVar[tuple[str, ...]] = ("domain",)
    schema = UNMAPPED_ACCOUNT_SCHEMA
    paginated = False

    @override
    def single_page_query(self) -> Mapping[str, Any]:
        return {"limit": MAX_LIMIT}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        read = 0
        for record in super().get_records(context):
            read += 1
            yield record
        # After the records, so that it is among the run's last lines (the last stream synced),
        # where a scheduled job's log is read; WARNING so that log alerts pick it up.
        if read >= MAX_LIMIT:
            self.logger.warning(
                "unmapped_accounts: %d read, the most one call returns; more accounts without "
                "an externalId may be waiting (the endpoint has no cursor, §4.4). Map these "
                "(external_id_mappings through target-recotap) and run again to read the next "
                "ones: docs/tap.md, 'Draining unmapped accounts'.",
                read,
            )
