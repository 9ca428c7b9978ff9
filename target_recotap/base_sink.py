"""The shared shape of every Recotap sink: build, coalesce, send, read results, record outcomes.

Each step is a small method. singer-sdk hands each RECORD to `process_record` (after the stream
map, and the schema check when `validate_records` is on); records of a BATCH file take the same
steps through `process_batch_files`. Records are built in the main thread; a full batch is
handed to `RunContext.in_flight` and sent, read and recorded in a worker thread while reading
goes on.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

from singer_sdk.exceptions import InvalidRecord, MissingKeyPropertiesError
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from recotap_client.errors import RecotapAPIError, RecotapAuthError, RecotapUnavailableError
from target_recotap.failures import (
    CREATED,
    DRY_RUN,
    FAILED,
    REFUSED,
    SKIPPED,
    SUPERSEDED,
    UPDATED,
)
from target_recotap.records import later_wins
from target_recotap.refusals import items_named, points_into_batch
from target_recotap.validation import InvalidRecordError, Spec, build_item

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.mapper import StreamMap
    from singer_sdk.target_base import Target

    from recotap_client.endpoints import Endpoint
    from target_recotap.context import HasRunContext, RunContext

# API item statuses → our outcomes. "upserted" is what a third-party report saw on deals (§8.1).
_STATUSES = {"created": CREATED, "updated": UPDATED, "upserted": UPDATED, "skipped": SKIPPED}
_BAD_REQUEST = 400


class Pending(NamedTuple):
    """One API item waiting in a batch, with the input record it came from (for reports)."""

    key: str
    item: dict[str, Any]
    record: dict[str, Any]
    position: int  # the record's number in its stream (1 = the first record read), for logs


class Outcome(NamedTuple):
    """What happened to one pending item."""

    pending: Pending
    outcome: str
    reason: str = ""


class SchemaCheck(BaseJSONSchemaValidator):
    """`validate_records: true`: the SDK's JSON-schema check, noting a mismatch, not raising.

    The SDK calls `validate` on each record before `process_record`. Raising `InvalidRecord`
    would end the run (or, with `fail_on_record_validation_exception = False`, log a traceback
    per record and pass the record on regardless). A record its SCHEMA refuses is one refused
    record like any other: the mismatch is noted here, and `process_record` refuses the record
    with the validator's message.
    """

    def __init__(self, schema: dict[str, Any], *, validate_formats: bool) -> None:
        super().__init__(schema)
        self.validator = JSONSchemaValidator(schema, validate_formats=validate_formats)
        self.mismatch: tuple[dict[str, Any], str] | None = None

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self.validator.validate(record)
        except InvalidRecord as invalid:
            self.mismatch = (record, str(invalid))
        else:
            self.mismatch = None

    def problem(self, record: dict[str, Any]) -> str | None:
        """Why `record` (the one validated last) does not match its schema; None if it does."""
        if self.mismatch is None or self.mismatch[0] is not record:
            return None
        return self.mismatch[1]


class RecotapSink(BatchSink):
    """A declarative sink: subclasses set the endpoint, specs and key field."""

    endpoint: ClassVar[Endpoint]
    specs: ClassVar[Mapping[str, Spec]]
    key_field: ClassVar[str]
    # A column naming the record in the source system besides the key (logs of duplicates).
    source_id_field: ClassVar[str | None] = None
    merge_note: ClassVar[str] = ""  # how two records of one key are combined, if not replaced
    # Columns the tap emits that the API does not accept: dropped silently.
    read_only: ClassVar[frozenset[str]] = frozenset()
    # False: the main thread waits for each batch, because records read next depend on it.
    in_background: ClassVar[bool] = True

    def __init__(
        self, target: Target, stream_name: str, schema: dict[str, Any], key_properties: Any
    ) -> None:
        self.schema_check: SchemaCheck | None = None  # set by get_validator, if asked for
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target
        self.run: RunContext = cast("HasRunContext", target).run
        # The SDK parses date-time strings into datetimes by `self.schema` before each
        # `process_record`, and ends the run on one it cannot parse. Our own checks
        # (validation.py) read dates as the tap wrote them and refuse just the record with a
        # bad one, so the schema that step reads declares no property. The tap's schema stays
        # in `original_schema` (what the SDK compares on a new SCHEMA message), and the
        # schema check above was built from it.
        self.schema = {"type": "object", "properties": {}, "additionalProperties": True}
        self.pending: dict[str, Pending] = {}  # this batch's items, by key
        self.seen_columns: set[str] = set()
        # Checked on every record: computed once (settings and key do not change in a run).
        self.full_at = self.max_size
        self.received = self.run.records_received.setdefault(stream_name, [0])

    @override
    def setup(self) -> None:
        super().setup()
        earlier = self.run.sinks.get(self.stream_name)
        if earlier is not None:
            # A new SCHEMA retired the earlier sink of this stream. The SDK keeps its records
            # until the next full drain, so this sink's first full batch would overtake them:
            # send them now, before any newer record.
            self.target.drain_one(earlier)
        self.run.sinks[self.stream_name] = self

    @cached_property
    @override
    def validate_schema(self) -> bool:
        """The `validate_records` setting; off unless asked for (see its description)."""
        return bool(self.config.get("validate_records", False))

    @property
    @override
    def include_sdc_metadata_properties(self) -> bool:
        """Never: `_sdc_` columns are not sent (`add_record_metadata` is not offered).

        The SDK reads this per record; the default reads the setting through a fresh
        read-only view of the config each time.
        """
        return False

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        self.schema_check = SchemaCheck(
            self.schema, validate_formats=self.validate_field_string_format
        )
        return self.schema_check

    @property
    @override
    def max_size(self) -> int:
        """`batch_size_rows`, clamped to the endpoint's per-request cap (§2.7)."""
        wanted = self.batch_size_rows
        return self.endpoint.cap if wanted is None else max(1, min(wanted, self.endpoint.cap))

    @property
    @override
    def is_full(self) -> bool:
        return self.current_size >= self.full_at

    # Step 1: build one item per record (validate, normalise, route columns).

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        if self.schema_check is not None:
            mismatch = self.schema_check.problem(record)
            if mismatch is not None:
                self.refuse(record, f"does not match its SCHEMA: {mismatch}")
                return
        self.received[0] += 1
        self.warn_unknown_columns(record)
        try:
            item = self.build_item(record)
        except InvalidRecordError as invalid:
            self.refuse(record, str(invalid))
            return
        pending = self.pending
        key = str(item[self.key_field])
        if key in pending:  # same key twice in one batch: one API item (later wins)
            earlier = pending.pop(key)
            item = self.merge(earlier.item, item)
            self.warn_superseded(earlier, record, key)
        pending[key] = Pending(key, item, record, self.received[0])

    def warn_superseded(self, earlier: Pending, record: dict[str, Any], key: str) -> None:
        """One WARNING per record whose values a later record of the same key replaces."""
        self.run.report.count(self.stream_name, SUPERSEDED)
        self.logger.warning(
            "%s: record %s supersedes record %s: same %s %s in one batch, so one item is "
            "sent and the later record's values win%s",
            self.stream_name,
            self.name_record(self.received[0], record),
            self.name_record(earlier.position, earlier.record),
            self.key_field,
            key,
            self.merge_note,
        )

    def name_record(self, position: int, record: Mapping[str, Any]) -> str:
        """`#12` or `#12 (externalId 'crm-9')`: how the duplicate warning names a record."""
        field = self.source_id_field
        if field is None or record.get(field) in (None, ""):
            return f"#{position}"
        return f"#{position} ({field} {record[field]!r})"

    def refuse(self, record: dict[str, Any], reason: str) -> None:
        """Report `record` as refused locally (log, counters, failed-records file); never sent."""
        self.run.report.fail(self.stream_name, REFUSED, record, self.describe(record), reason)

    def merge(self, earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
        """Coalesce two items with the same key in one batch (default: the later wins)."""
        return later_wins(earlier, later)

    def build_item(self, record: dict[str, Any]) -> dict[str, Any]:
        """The API item for `record`; raises `InvalidRecordError` with every problem found."""
        return build_item(record, self.specs)

    def describe(self, record: Mapping[str, Any]) -> str:
        """How a record is named in logs: its key field, or `(no <key>)`."""
        value = record.get(self.key_field)
        return repr(value) if value not in (None, "") else f"(no {self.key_field})"

    def known_column(self, column: str) -> bool:
        """True for columns that are sent or deliberately dropped without a warning."""
        return column in self.specs or column in self.read_only or column.startswith("_sdc_")

    def warn_unknown_columns(self, record: Mapping[str, Any]) -> None:
        """Warn once per stream about columns the API has no place for (they are dropped)."""
        if self.seen_columns.issuperset(record):  # almost always: no new column
            return
        new = record.keys() - self.seen_columns
        self.seen_columns.update(new)
        unknown = [column for column in new if not self.known_column(column)]
        if unknown:
            self.logger.warning(
                "%s: dropping column(s) Recotap has no field for: %s. Accepted: %s",
                self.stream_name,
                ", ".join(sorted(unknown)),
                ", ".join(self.specs),
            )

    # Step 2: send a batch (or only log it in dry-run mode).

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        if "records" in context:  # the records of a BATCH message's file, as the SDK read them
            self.take_batch_file(context["records"])
            return
        batch = list(self.pending.values())
        self.pending = {}
        if not batch:
            return
        if self.run.dry_run:
            self.logger.info(
                "%s: dry run, would send %d item(s) to %s %s, keys: %s",
                self.stream_name,
                len(batch),
                self.endpoint.method,
                self.endpoint.path,
                ", ".join(p.key for p in batch),
            )
            self.logger.debug("%s: dry run items: %s", self.stream_name, [p.item for p in batch])
            self.after_dry_run(batch)
            self.run.report.count(self.stream_name, DRY_RUN, len(batch))
            return
        in_flight = self.run.in_flight
        in_flight.submit(self.stream_name, (p.key for p in batch), lambda: self.deliver(batch))
        if not self.in_background:
            in_flight.wait()

    def take_batch_file(self, records: list[dict[str, Any]]) -> None:
        """Records of a BATCH file take the RECORD path: checked, refused or sent one by one.

        singer-sdk reads the file (`process_batch_files`) and hands over all its records at
        once, without its stream map; without this they were never sent (this sink's batches
        are built record by record). They join the records this sink holds, in input order, so
        a later write of a key still wins.
        """
        stream_map = self.stream_map()
        for raw in records:
            record = stream_map.transform(raw)
            if record is not None:  # None: filtered out by the stream map
                self.take_file_record(record)

    def stream_map(self) -> StreamMap:
        """The one stream map whose output is this stream (BATCH records go through it)."""
        maps = [
            stream_map
            for stream_maps in self.target.mapper.stream_maps.values()
            for stream_map in stream_maps
            if stream_map.stream_alias == self.stream_name
        ]
        if len(maps) != 1:
            message = (
                f"A BATCH message for {self.stream_name!r} cannot be mapped: {len(maps)} stream "
                "maps write to that stream, so which one its records went through is unknown. "
                "Send RECORD messages for it, or give each source stream its own alias."
            )
            raise ValueError(message)
        return maps[0]

    def take_file_record(self, record: dict[str, Any]) -> None:
        """What singer-sdk does for a RECORD message after the stream map, in the same order."""
        if self.schema_check is not None:
            self.schema_check.validate(record)
        record = self.preprocess_record(record, {})
        missing = [key for key in self.key_properties if key not in record]
        if missing:  # the SDK's check of a RECORD, with its error
            message = (
                f"Record is missing one or more key_properties. \nKey Properties: "
                f"{list(self.key_properties)}, Record Keys: {list(record)}"
            )
            raise MissingKeyPropertiesError(message)
        self.tally_record_read()
        self.process_record(record, {})
        if self.is_full:
            self.target.drain_one(self)

    def after_dry_run(self, batch: list[Pending]) -> None:
        """Hook: what a dry run must pretend happened (e.g. custom fields now exist)."""

    def deliver(self, batch: list[Pending]) -> None:
        """Send `batch`, read every item's status and record the outcomes."""
        try:
            data = self.send(batch)
        except RecotapAPIError as error:
            if isinstance(error, RecotapAuthError | RecotapUnavailableError):
                raise
            self.on_refused_request(batch, error)
            return
        self.record_outcomes(self.read_results(batch, data))

    def send(self, batch: list[Pending]) -> Any:
        """One write request for `batch`; returns the response's `data`."""
        self.run.report.count_request(self.stream_name)
        return self.run.api.write(self.endpoint, [p.item for p in batch], **self.extra_body())

    def extra_body(self) -> dict[str, Any]:
        """Request members besides the item list (e.g. `upsert`)."""
        return {}

    # Step 3: read the results.

    def read_results(self, batch: list[Pending], data: Any) -> list[Outcome]:
        """Match `data.results[]` to the batch: by position, else by normalised key.

        The usual answer lists one result per item in request order. Otherwise each item needs
        exactly one result with its key, and that result exactly one item: anything else is
        ambiguous, and blaming or crediting the wrong record is worse than failing both.
        """
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            reason = f"Recotap's answer confirms nothing (no results list): {data!r:.200}"
            return [Outcome(p, FAILED, reason) for p in batch]
        if len(results) == len(batch) and self.keys_in_order(batch, results):
            return [self.read_result(p, r) for p, r in zip(batch, results, strict=True)]
        return self.read_results_by_key(batch, results)

    def keys_in_order(self, batch: list[Pending], results: list[Any]) -> bool:
        """Whether `results[i]` is a result carrying the key of `batch[i]`, for every i."""
        field = self.key_field
        if all(type(r) is dict for r in results) and [r.get(field) for r in results] == [
            p.key for p in batch
        ]:
            return True  # the usual answer: each key echoed exactly as sent
        return all(
            isinstance(r, dict) and self.same_key(r.get(field), p.key)
            for r, p in zip(results, batch, strict=True)
        )

    def read_results_by_key(self, batch: list[Pending], results: list[Any]) -> list[Outcome]:
        """Each item's result found by its normalised key; missing or ambiguous ones fail."""
        by_key: dict[str, list[dict[str, Any]]] = {}
        for result in results:
            if isinstance(result, dict):
                key = self.match_key(result.get(self.key_field))
                by_key.setdefault(key, []).append(result)
        items_per_key = Counter(self.match_key(p.key) for p in batch)
        outcomes = []
        for pending in batch:
            key = self.match_key(pending.key)
            found = by_key.get(key, [])
            if not found:
                outcomes.append(Outcome(pending, FAILED, "Recotap returned no result for it"))
            elif len(found) > 1 or items_per_key[key] > 1:
                reason = (
                    f"Recotap's answer is ambiguous: {len(found)} result(s) for "
                    f"{items_per_key[key]} item(s) with this {self.key_field}"
                )
                outcomes.append(Outcome(pending, FAILED, reason))
            else:
                outcomes.append(self.read_result(pending, found[0]))
        return outcomes

    def match_key(self, value: Any) -> str:
        """The form in which a key echoed by Recotap is compared with ours."""
        return str(value)

    def same_key(self, echoed: Any, key: str) -> bool:
        """Whether a result's key names the item whose key is `key`."""
        return echoed == key or self.match_key(echoed) == self.match_key(key)

    def read_result(self, pending: Pending, result: dict[str, Any] | None) -> Outcome:
        """Turn one `results[]` entry into an outcome."""
        if result is None:
            return Outcome(pending, FAILED, "Recotap returned no result for this item")
        status = str(result.get("status"))
        if status == "failed":
            return self.read_failure(pending, str(result.get("error") or "no error text"))
        if status in _STATUSES:
            return Outcome(pending, _STATUSES[status], str(result.get("reason") or ""))
        return Outcome(pending, FAILED, f"Recotap returned an unknown status {status!r}")

    def read_failure(self, pending: Pending, error: str) -> Outcome:
        """Hook: a per-item `failed` (some are not failures, e.g. duplicates on a re-run)."""
        return Outcome(pending, FAILED, error)

    # Step 4: record outcomes.

    def record_outcomes(self, outcomes: list[Outcome]) -> None:
        """Count every outcome; failed items go to the log and the failed-records file."""
        tally: Counter[str] = Counter()
        for outcome in outcomes:
            if outcome.outcome == FAILED:
                self.run.report.fail(
                    self.stream_name,
                    FAILED,
                    outcome.pending.record,
                    outcome.pending.key,
                    outcome.reason,
                )
                continue
            if outcome.outcome == SKIPPED:
                self.logger.info(
                    "%s: Recotap skipped %s: %s",
                    self.stream_name,
                    outcome.pending.key,
                    outcome.reason,
                )
            tally[outcome.outcome] += 1
        for name, number in tally.items():  # one locked update per outcome, not per item
            self.run.report.count(self.stream_name, name, number)

    # Whole-request refusals (§5.1: validation errors reject the whole request).

    def on_refused_request(self, batch: list[Pending], error: RecotapAPIError) -> None:
        """Isolate the items behind a whole-request 400 and deliver the others."""
        if error.status_code != _BAD_REQUEST:
            raise error
        bad = items_named(error, self.endpoint.payload_key, len(batch))
        if bad:
            self.record_outcomes(
                [Outcome(batch[i], FAILED, f"Recotap refused it: {why}") for i, why in bad.items()]
            )
            rest = [p for i, p in enumerate(batch) if i not in bad]
            if rest:
                self.deliver(rest)
            return
        keys = [p.key for p in batch]
        if len(batch) > 1 and points_into_batch(error, self.endpoint.payload_key, keys):
            half = len(batch) // 2  # an item we cannot locate exactly: split until we can
            self.deliver(batch[:half])
            self.deliver(batch[half:])
            return
        reason = f"Recotap refused the whole request: {error}"
        self.record_outcomes([Outcome(p, FAILED, reason) for p in batch])
