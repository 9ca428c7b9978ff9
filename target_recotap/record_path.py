"""The per-record path: the SDK's steps for a RECORD message, without the work we never need.

`Target._process_record_message` (singer-sdk 0.54) runs about fifteen calls per record; on a
target whose own work per record is small they were a third of its CPU. This is the same
sequence for every sink, in the same order, with the same errors, minus:

- the per-record debug log call (`_after_process_record`);
- the INFO line per full batch ("Target sink ... is full"), logged at DEBUG here: with batches
  of at most 100 it was one line per 100 records;
- a copy of each record when only one stream map reads it, and the call to the default map of
  an unmapped stream (it returns its input);
- removing `_sdc_*` columns: sinks here send only the fields they know (`add_record_metadata`
  is not offered), so the failed-records file keeps the record as it came.

Date parsing is left to each sink (`RecotapSink` keeps dates as the tap wrote them).
"""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.target_base import Target

from target_recotap.base_sink import RecotapSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.mapper import StreamMap
    from singer_sdk.sinks import Sink

_RECORD_MEMBERS = frozenset({"stream", "record"})


class LeanRecordPath(Target):
    """A Target whose RECORD handling is the SDK's, trimmed (see the module docstring)."""

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        if not message_dict.keys() >= _RECORD_MEMBERS:
            self._assert_line_requires(message_dict, requires=set(_RECORD_MEMBERS))
        stream_name = message_dict["stream"]
        if stream_name not in self.mapper.stream_maps:
            self._assert_sink_exists(stream_name)  # raises RecordsWithoutSchemaException
        stream_maps = self.mapper.stream_maps[stream_name]
        for stream_map in stream_maps:
            record = message_dict["record"]
            if len(stream_maps) > 1:  # each map gets its own copy to change
                record = copy.copy(record)
            if not _is_identity(stream_map):
                record = stream_map.transform(record)
                if record is None:  # filtered out by the stream map
                    continue
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is None:
                self._assert_sink_exists(stream_map.stream_alias)  # raises
                sink = self.get_sink(stream_map.stream_alias)
            self.take_record(sink, record)
            sink.record_counter_metric.increment()
        self._handle_max_record_age()

    def take_batch_records(self, sink: Sink, records: list[dict[str, Any]]) -> None:
        """Records of a BATCH file for `sink`: its stream map (the SDK does not apply it), then
        the RECORD path."""
        stream_map = self._stream_map_into(sink.stream_name)
        for raw in records:
            record = raw if _is_identity(stream_map) else stream_map.transform(raw)
            if record is not None:  # None: filtered out by the stream map
                self.take_record(sink, record)

    def _stream_map_into(self, alias: str) -> StreamMap:
        maps = [m for ms in self.mapper.stream_maps.values() for m in ms if m.stream_alias == alias]
        if len(maps) != 1:
            message = (
                f"A BATCH message for {alias!r} cannot be mapped: {len(maps)} stream maps "
                "write to that stream, so which one its records went through is unknown. "
                "Send RECORD messages for it, or give each source stream its own alias."
            )
            raise ValueError(message)
        return maps[0]

    def take_record(self, sink: Sink, record: dict[str, Any]) -> None:
        """Validate and hand over one record (from a RECORD or a BATCH file); drain when full."""
        context = sink._get_context(record)
        try:
            parsed = sink._validate_and_parse(record)
        except InvalidRecord as invalid:
            if not isinstance(sink, RecotapSink):
                raise
            # `validate_records: true`: a record its SCHEMA refuses is one refused record, like
            # one our own checks refuse, not the end of the run (which every re-run would repeat).
            sink.refuse(record, f"does not match its SCHEMA: {invalid}")
            return
        record = sink.preprocess_record(parsed, context)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        sink.process_record(record, context)
        if sink.is_full:
            self.logger.debug("Sink for '%s' is full: draining", sink.stream_name)
            self.drain_one(sink)


def _is_identity(stream_map: StreamMap) -> bool:
    """The default map of an unmapped stream, without flattening: transform returns its input."""
    return type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
