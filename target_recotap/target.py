"""target-recotap: settings, routing by stream name, start-up checks, summary and exit code."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import ConfigValidationError

from recotap_client.concurrency import DEFAULT_CEILING, AdaptiveConcurrency
from recotap_client.endpoints import RecotapAPI
from recotap_plugin_common.settings import CONNECTION_SETTINGS
from recotap_plugin_common.settings_check import SettingsCheck
from target_recotap.context import CustomFieldKeys, RunContext
from target_recotap.failures import FailedRecordsFile, FailedRecordsPathError, RunReport
from target_recotap.in_flight import InFlightBatches, pace_line
from target_recotap.sdk_seams import StateAfterConfirmation
from target_recotap.sinks import CONNECTION_CHECK_STREAM, SINKS, ConnectionCheckSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from pathlib import PurePath
    from types import FrameType

    from singer_sdk.sinks import Sink


class UnsupportedStreamError(ValueError):
    """A stream name target-recotap cannot route to a Recotap endpoint."""


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppedBySignalError(SystemExit):
    """SIGTERM or SIGINT: stop where the main thread is; exit 128 + the signal's number.

    A `SystemExit`, so no `except Exception` on the way up swallows it, and the process exits
    with its code without a traceback wherever it is raised.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signal_name = signal.Signals(signum).name


class TargetRecotap(SettingsCheck, StateAfterConfirmation):
    """Push accounts, deals, sales activities, custom fields, external ids and deal stages."""

    # The instance `Target.invoke` made last (the command line makes one): `invoke` reads its
    # exit status, and finishes its run after a signal, once `listen` has returned or raised.
    latest: ClassVar[TargetRecotap | None] = None
    # Set by `invoke`: tune the garbage collector once the instance is built (see there).
    tune_gc: ClassVar[bool] = False

    name = "target-recotap"
    package_name = "recotap-singer"
    # msgspec decodes a RECORD line several times faster than json; numbers still arrive as
    # int or Decimal, as with the SDK's default reader.
    message_reader_class = MsgSpecReader

    config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList(
        *CONNECTION_SETTINGS,
        th.Property(
            "upsert",
            th.BooleanType,
            default=True,
            title="Upsert accounts",
            description="Update accounts whose domain already exists. When false, such "
            "accounts are reported as failed records.",
        ),
        th.Property(
            "clear_custom_fields_with_null",
            th.BooleanType,
            default=False,
            title="Clear custom fields with null",
            description="Off (default): null values are never sent, so an upsert never clears "
            "a field; a null custom-field value (in customFields or a column mapped into it) "
            "leaves the value stored in Recotap as it is. On: a null custom-field value is "
            "sent and clears that field in Recotap. Other fields are never cleared.",
        ),
        th.Property(
            "segment_id",
            th.StringType,
            title="Segment ID",
            description="Add every pushed account to this static segment (active or draft, "
            "from GET /segments). Checked at start-up: the run stops before reading input "
            "if the segment is not usable.",
        ),
        th.Property(
            "failed_records_path",
            th.StringType,
            title="Failed records file",
            description="JSONL file that receives one line per refused or failed record "
            "(stream, record, reason, time). Appended; parent directories are created.",
        ),
        th.Property(
            "max_failed_records",
            th.IntegerType,
            default=0,
            title="Max failed records",
            description="How many refused or failed records a run may have and still exit 0. "
            "Above it, the run still delivers everything else, then exits 1.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            title="Batch size rows",
            description="Records per request; always clamped to the API's per-request caps "
            "(accounts/deals/external ids 100, sales activities 50, deal stages 20).",
        ),
        th.Property(
            "max_in_flight_batches",
            th.IntegerType(minimum=1),
            default=DEFAULT_CEILING,
            title="Max in-flight batches",
            description="The most write requests sent at the same time while input is still "
            "being read. How many are actually in flight adapts during the run (see "
            "adaptive_concurrency): more while answers come back fast and without 429, fewer "
            "after a 429 or when answers slow down. Two writes of one key (an account's "
            "domain, a deal id, ...) are never in flight together, so they reach Recotap in "
            "input order; a new stream starts only after every earlier batch is confirmed. "
            "1 sends one batch at a time.",
        ),
        th.Property(
            "adaptive_concurrency",
            th.BooleanType,
            default=True,
            title="Adaptive concurrency",
            description="Find the pace Recotap accepts while the run goes: start with two "
            "write requests in flight, add one every two round trips up to "
            "max_in_flight_batches, and after a 429 slow down to the rate Recotap let through "
            "(even below one request at a time, by spacing requests out), then probe upwards "
            "again. Off: always keep max_in_flight_batches in flight.",
        ),
        th.Property(
            "validate_records",
            th.BooleanType,
            default=False,
            title="Validate records against the stream schema",
            description="Also check every record against the JSON schema its tap declared; a "
            "record that does not match is refused like any other bad record (reported, never "
            "sent). Off by default: the target always checks each record against what the "
            "Recotap API accepts, and the schema check costs most of the target's CPU.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            title="Dry run",
            description="Validate, route, normalise and count everything and log what would "
            "be sent, but write nothing to Recotap.",
        ),
    ).to_dict()

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        super().append_builtin_config(config_jsonschema)
        # The SDK offers these to every target, but only SQL targets act on them: here `upsert`
        # decides how accounts are written, and `_sdc_` metadata columns are never sent.
        for unused in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(unused, None)

    def __init__(
        self,
        *,
        config: dict[str, Any] | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: Any = None,
    ) -> None:
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        # Drain sinks one after the other, in the order their streams started: accounts must be
        # in Recotap before the external ids, deals and activities that refer to their domains.
        self.max_parallelism = 1
        self._stop_on_signals()
        self.run = self._start_run()
        self.exit_code = 0
        TargetRecotap.latest = self
        if self.tune_gc:
            # The SDK's imports and this start-up leave ~50,000 long-lived objects that every
            # full garbage collection walks again while records stream through (~20% of the
            # CPU per record). Nothing made so far is garbage we need back: move it out of the
            # collector's sight. Records are freed by reference counting, not by the
            # collector: run it less often (-7% instructions per record, callgrind).
            gc.freeze()
            gc.set_threshold(20_000, 50, 50)

    def _stop_on_signals(self) -> None:
        """Replace the SDK's SIGTERM/SIGINT handler, which drains and exits 0.

        The SDK's handler runs in the main thread on top of whatever it was doing: a batch half
        built, a batch waiting for a send slot, a batch being sent. Draining from there emitted
        STATE past records that were never sent. Instead the signal stops the run where it is
        (see `invoke`): no STATE after it, exit status 128 + the signal's number.
        """
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._raise_stop)

    @staticmethod
    def _raise_stop(signum: int, _frame: FrameType | None) -> None:
        # A second signal while we wait for the requests in flight ends the process at once.
        for other in _STOP_SIGNALS:
            signal.signal(other, signal.SIG_DFL)
        raise StoppedBySignalError(signum)

    def finish_after_signal(self, stop: StoppedBySignalError) -> None:
        """Let the requests in flight finish and report them; emit no STATE; say so."""
        self.logger.error(
            "Received %s: stopping. No more input is read and no STATE is emitted; waiting for "
            "the %d write request(s) in flight to finish (a second signal stops at once).",
            stop.signal_name,
            self.run.in_flight.in_flight(),
        )
        self.run.in_flight.close()
        self.run.api.close()
        self._log_summary(complete=False)
        self.logger.error(
            "Stopped by %s before the end of the input. Records read after the last STATE "
            "this target emitted may not be in Recotap: the next run, starting from that "
            "STATE, sends them again. Exiting with status %s.",
            stop.signal_name,
            stop.code,
        )

    def _start_run(self) -> RunContext:
        # The settings check (SettingsCheck) has already refused a non-https api_url.
        api = RecotapAPI.from_config(self.config, self.logger, user_agent="target-recotap")
        failed_records = FailedRecordsFile(self.config.get("failed_records_path"))
        try:
            failed_records.check()
        except FailedRecordsPathError as error:
            raise ConfigValidationError(str(error), errors=[str(error)]) from error
        report = RunReport(failed_records, self.logger)
        ceiling = int(self.config.get("max_in_flight_batches", DEFAULT_CEILING))
        pace = AdaptiveConcurrency(
            ceiling, adaptive=bool(self.config.get("adaptive_concurrency", True))
        )
        api.session.on_answer = pace.answered
        run = RunContext(
            api=api,
            report=report,
            custom_fields=CustomFieldKeys(api),
            in_flight=InFlightBatches(ceiling, pace),
            dry_run=bool(self.config.get("dry_run", False)),
            upsert=bool(self.config.get("upsert", True)),
            segment_id=self.config.get("segment_id") or None,
            clear_custom_fields_with_null=bool(
                self.config.get("clear_custom_fields_with_null", False)
            ),
        )
        if run.segment_id:
            self._check_segment(api, run.segment_id)
        return run

    def _check_segment(self, api: RecotapAPI, segment_id: str) -> None:
        """§4.2: the segment must exist, be static and active/draft, or POST /accounts is a 400.

        GET /segments lists exactly the usable ones (§4.8), so absence means unusable.
        """
        usable = {str(s.get("segmentId")): s for s in api.segments()}
        if segment_id in usable:
            self.logger.info(
                "Accounts will be added to segment %s (%s, %s)",
                segment_id,
                usable[segment_id].get("name"),
                usable[segment_id].get("status"),
            )
            return
        message = (
            f"segment_id {segment_id!r} cannot receive accounts: it is not one of the static "
            "segments with status active or draft that GET /segments lists (it may not exist, "
            "be dynamic, or be archived). Usable segments: "
            + (", ".join(f"{k} ({v.get('name')})" for k, v in usable.items()) or "none")
        )
        raise ConfigValidationError(message, errors=[message])

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name == CONNECTION_CHECK_STREAM:
            return ConnectionCheckSink
        if stream_name in SINKS:
            return SINKS[stream_name]
        supported = ", ".join(SINKS)
        raise UnsupportedStreamError(
            f"target-recotap has no destination for stream {stream_name!r}. Supported "
            f"streams: {supported}. To load it as one of these, rename it with a stream map, "
            f'e.g. in meltano.yml: stream_maps: {{"{stream_name}": {{"__alias__": "accounts"}}}}'
        )

    @override
    def state_may_pass(self) -> bool:
        # The SDK has just drained every sink: every batch handed to a worker must be confirmed
        # by the API before the tap's STATE passes. A background failure is raised here: no STATE.
        self.run.in_flight.wait()
        # A dry run wrote nothing, so passing the tap's state on would make Meltano skip this
        # data on the next real run.
        if self.run.dry_run:
            self.logger.info("Dry run: not emitting STATE (nothing was written)")
            return False
        return True

    @override
    def process_endofpipe(self) -> None:
        try:
            super().process_endofpipe()
            self.run.in_flight.wait()  # raises a background failure even when no STATE came
        finally:
            self.run.in_flight.close()
            self.run.api.close()
        self._log_summary()

    def _log_summary(self, *, complete: bool = True) -> None:
        report = self.run.report
        for stream in report.streams():
            self.logger.info("Summary %s", report.summary_line(stream))
        pace = self.run.in_flight.pace.report()
        if pace.answers:
            self.logger.info("Summary write pace: %s", pace_line(pace))
        failures = report.failures()
        if not complete:  # stopped early: the exit status is the signal's, said next
            if failures:
                self.logger.warning("%d record(s) were refused or failed so far.", failures)
            return
        limit = int(self.config.get("max_failed_records", 0))
        path = report.failed_records.path
        where = f"they are listed in {path}" if path else "set failed_records_path to keep them"
        if failures > limit:
            self.exit_code = 1
            self.logger.error(
                "%d record(s) were refused or failed, more than max_failed_records=%d; %s. "
                "Everything else was delivered. Exiting with status 1.",
                failures,
                limit,
                where,
            )
        elif failures:
            self.logger.warning(
                "%d record(s) were refused or failed (allowed: max_failed_records=%d); %s.",
                failures,
                limit,
                where,
            )

    @classmethod
    @override
    def invoke(
        cls, *, about: bool = False, about_format: str | None = None, **options: Any
    ) -> None:
        """Run the target (`Target.invoke`), then exit 1 if too many records failed.

        The expected outcome "some records failed" gets a clear final log line, not a
        traceback; so do a signal and an unwritable failed-records file.
        """
        TargetRecotap.tune_gc = True  # the command line only: tests keep the defaults
        TargetRecotap.latest = None
        try:
            super().invoke(about=about, about_format=about_format, **options)
        except StoppedBySignalError as stop:
            if TargetRecotap.latest is not None:
                TargetRecotap.latest.finish_after_signal(stop)
            raise
        except FailedRecordsPathError:
            # Logged where it happened, with the record and what to do: no traceback needed.
            if TargetRecotap.latest is not None:
                TargetRecotap.latest.run.in_flight.close()
            sys.exit(1)
        if TargetRecotap.latest is not None and TargetRecotap.latest.exit_code:
            sys.exit(TargetRecotap.latest.exit_code)


if __name__ == "__main__":
    TargetRecotap.cli()
