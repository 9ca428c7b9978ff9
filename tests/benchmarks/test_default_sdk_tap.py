"""The "SDK defaults" comparison tap really runs with the SDK's defaults, whatever the tap sets."""

from __future__ import annotations

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter

from benchmarks.default_sdk_tap import DefaultSDKTapRecotap, SDKDefaults
from tap_recotap.output import RecordBlockWriter
from tap_recotap.tap import TapRecotap


class TunedTap(TapRecotap):
    """What the production tap is heading for: msgspec writer, no type conformance."""

    message_writer_class = MsgSpecWriter

    def discover_streams(self):
        streams = super().discover_streams()
        for stream in streams:
            stream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
        return streams


class RestoredTap(SDKDefaults, TunedTap):
    """The benchmark's restoration applied on top of a tuned tap."""


def _config(sandbox):
    return {"api_key": sandbox.api_key, "api_url": sandbox.api_url, "page_size": 100}


def test_sdk_defaults_undo_a_tuned_writer_and_conformance(sandbox):
    tuned, restored = TunedTap(config=_config(sandbox)), RestoredTap(config=_config(sandbox))
    assert type(tuned.message_writer) is MsgSpecWriter
    assert type(restored.message_writer) is SingerWriter
    assert restored.streams  # discovery went through the sandbox
    for stream in restored.streams.values():
        assert stream.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.RECURSIVE, stream.name
        assert stream.read_ahead is False, stream.name


def test_default_sdk_tap_is_the_production_tap_with_sdk_defaults(sandbox):
    tap = DefaultSDKTapRecotap(config=_config(sandbox))
    assert isinstance(tap, TapRecotap)
    assert type(tap.message_writer) is SingerWriter
    assert set(tap.streams) == set(TapRecotap(config=_config(sandbox)).streams)
    for stream in tap.streams.values():
        assert stream.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.RECURSIVE, stream.name
        assert stream.read_ahead is False, stream.name


def test_the_production_tap_reads_ahead_with_the_msgspec_writer_and_no_conformance(sandbox):
    tap = TapRecotap(config=_config(sandbox))
    assert type(tap.message_writer) is RecordBlockWriter
    assert isinstance(tap.message_writer, MsgSpecWriter)
    for stream in tap.streams.values():
        assert stream.TYPE_CONFORMANCE_LEVEL is TypeConformanceLevel.NONE, stream.name
        assert stream.read_ahead is True, stream.name
