"""tap-recotap with the Singer SDK's defaults and no read-ahead: the "SDK-default tap" comparison.

The same streams and the same Recotap client, but as a tap written on the SDK's defaults would
run them: each page fetched after the previous page's records are written (no read-ahead), the
SDK's default JSON writer (`SingerWriter`) and its default type conformance (RECURSIVE) on every
stream. The defaults are put back explicitly (not by inheritance, which would pick up the tap's
choices) and read from the SDK's own base classes, so the comparison follows the installed SDK.

    python -m benchmarks.default_sdk_tap --config config.json
"""

from __future__ import annotations

from singer_sdk import Stream, Tap
from typing_extensions import override

from tap_recotap.client import RecotapStream
from tap_recotap.tap import TapRecotap

SDK_DEFAULT_WRITER = Tap.message_writer_class
SDK_DEFAULT_CONFORMANCE = Stream.TYPE_CONFORMANCE_LEVEL


class SDKDefaults(Tap):
    """Mixin: the SDK's default writer and conformance, and pages one after another."""

    message_writer_class = SDK_DEFAULT_WRITER

    @override
    def discover_streams(self) -> list[Stream]:
        streams = list(super().discover_streams())
        for stream in streams:
            stream.TYPE_CONFORMANCE_LEVEL = SDK_DEFAULT_CONFORMANCE
            if isinstance(stream, RecotapStream):
                stream.read_ahead = False
        return streams


class DefaultSDKTapRecotap(SDKDefaults, TapRecotap):
    """tap-recotap with the SDK's default writer and type conformance, without read-ahead."""


if __name__ == "__main__":
    DefaultSDKTapRecotap.cli()
