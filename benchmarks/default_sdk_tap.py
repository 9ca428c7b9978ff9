"""tap-recotap with the Singer SDK's own defaults for output: the "before tuning" comparison.

The production tap is meant to use the msgspec writer and a lighter type-conformance level. This
subclass puts back, explicitly (not by inheritance, which would pick up the tap's choices), the
SDK 0.54 defaults: `SingerWriter` (simplejson) as `message_writer_class`, and
`TypeConformanceLevel.RECURSIVE` on every stream.

    python -m benchmarks.default_sdk_tap --config config.json
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from typing_extensions import override

from tap_recotap.tap import TapRecotap

if TYPE_CHECKING:
    from singer_sdk.streams import Stream

# The values singer_sdk 0.54 declares on `Tap.message_writer_class` and
# `Stream.TYPE_CONFORMANCE_LEVEL`.
SDK_DEFAULT_WRITER = SingerWriter
SDK_DEFAULT_CONFORMANCE = TypeConformanceLevel.RECURSIVE


class DefaultSDKTapRecotap(TapRecotap):
    """tap-recotap with the SDK's default message writer and type conformance."""

    message_writer_class = SDK_DEFAULT_WRITER

    @override
    def discover_streams(self) -> list[Stream]:
        streams = list(super().discover_streams())
        for stream in streams:
            stream.TYPE_CONFORMANCE_LEVEL = SDK_DEFAULT_CONFORMANCE
        return streams


if __name__ == "__main__":
    DefaultSDKTapRecotap.cli()
