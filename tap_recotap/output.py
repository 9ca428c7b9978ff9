"""How the tap writes Singer messages: msgspec JSON lines, RECORDs written in blocks.

The SDK's writers (`SingerWriter`, `MsgSpecWriter`) flush stdout after every message, one
`write` system call per record (with PYTHONUNBUFFERED, as Meltano and CI often set, Python's
own buffer is off too). Here RECORD lines collect in a block of at most `BLOCK_BYTES` that is
written out when full and before any other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH),
which is then flushed at once. Safe for at-least-once delivery: messages keep their order, so a
STATE never reaches the target before the records it covers; records still in the block when the
tap dies are covered by no STATE the target has seen, so the next run reads them again.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.singerlib import Message

#: Records (about 700 bytes each for accounts) written to stdout per system call.
BLOCK_BYTES = 64 * 1024


class RecotapWriter(MsgSpecWriter):
    """`MsgSpecWriter` that writes RECORDs in blocks and flushes on every other message."""

    def __init__(self) -> None:
        self._block = bytearray()

    @override
    def write_message(self, message: Message) -> None:
        self._block += self.format_message(message)
        if not isinstance(message, RecordMessage) or len(self._block) >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write out the records collected so far (and the message that ended the block)."""
        stdout = sys.stdout
        binary = getattr(stdout, "buffer", None)
        if binary is None:  # a text-only stdout (`contextlib.redirect_stdout(io.StringIO())`)
            stdout.write(self._block.decode())
        else:
            binary.write(self._block)
        stdout.flush()
        self._block.clear()
