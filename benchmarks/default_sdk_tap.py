"""tap-recotap with the Singer SDK's own defaults for output: the "before tuning" comparison.

The production tap is meant to use the msgspec writer and a lighter type-conformance level. This
subclass puts back, explicitly (not by inheritance, which would pick up the tap's choices), the
SDK defaults: `SingerWriter` (the SDK's stock JSON writer) as `message_writer_class`, and
`TypeConformanceLevel.RECURSIVE` on every stream.

    python -m benchmarks.default_sdk_tap --config config.json
"""

from __future__ import annotations

from singer_sdk import Stream, Tap
from typing_extensions import override

from tap_recotap.tap import TapRecotap

# Read from the SDK's own base classes (singer_sdk 0.54: `SingerWriter` and
# `TypeConformanceLevel.RECURSIVE`), so the comparison follows the installed SDK's defaults
# whatever tap-recotap chooses.
SDK_DEFAULT_WRITER = Tap.message_writer_class
SDK_DEFAULT_CONFORMANCE = Stream.TYPE_CONFORMANCE_LEVEL


class SDKDefaults(Tap):
    """Mixin: put the SDK's default message writer and type conformance back on a tap."""

    message_writer_class = SDK_DEFAULT_WRITER

    @override
    def discover_streams(self) -> list[Stream]:
        streams = list(super().discover_streams())
        for stream in streams:
            stream.TYPE_CONFORMANCE_LEVEL = SDK_DEFAULT_CONFORMANCE
        return streams


class DefaultSDKTapRecotap(SDKDefaults, TapRecotap):
    """tap-recotap with the SDK's default message writer and type conformance."""


if __name__ == "__main__":
    DefaultSDKTapRecotap.cli()
