"""Turn a failed-records file back into Singer messages, to push its records again.

    python -m target_recotap.replay failed.jsonl | target-recotap --config config.json

Each line of the file (see `failures.FailedRecordsFile`) names its stream and holds the record
as the target received it (after stream maps). This prints one SCHEMA per stream (every column
its records use, any type) and then one RECORD per line, in the file's order, records copied
byte for byte (numbers keep every digit). It prints no STATE: a replay never moves a bookmark.
Fix the data (edit the lines) or the cause (e.g. create the custom field) first, and move the
file aside, since the target appends the records that fail again to its failed-records file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec


class FailedLine(msgspec.Struct):
    """What a replay needs from one line of the failed-records file."""

    stream: str
    record: msgspec.Raw


class ReplayError(ValueError):
    """A line of the file is not a failed-records line."""


_encode = msgspec.json.encode


def read_lines(lines: Iterable[bytes]) -> list[FailedLine]:
    """Parse every non-blank line; raise `ReplayError` naming the first bad one."""
    decoder = msgspec.json.Decoder(FailedLine)
    parsed = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append(decoder.decode(line))
        except msgspec.DecodeError as error:
            message = f"line {number} is not a failed-records line ({error})"
            raise ReplayError(message) from error
    return parsed


def singer_messages(failed: list[FailedLine]) -> Iterator[bytes]:
    """SCHEMA per stream, then RECORD per failed line, as Singer lines."""
    columns: dict[str, dict[str, None]] = {}
    for line in failed:
        record: dict[str, Any] = msgspec.json.decode(line.record)
        columns.setdefault(line.stream, {}).update(dict.fromkeys(record))
    for stream, names in columns.items():
        schema: dict[str, Any] = {"properties": {name: {} for name in names}}
        message = {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": []}
        yield _encode(message) + b"\n"
    for line in failed:
        yield b'{"type":"RECORD","stream":' + _encode(line.stream) + b',"record":'
        yield bytes(line.record) + b"}\n"


def main(argv: list[str] | None = None, out: BinaryIO | None = None) -> int:
    """Command line: `python -m target_recotap.replay FILE` (`-` reads standard input)."""
    parser = argparse.ArgumentParser(
        prog="python -m target_recotap.replay",
        description="Print a target-recotap failed-records file as Singer messages "
        "(pipe them into target-recotap to push the records again).",
    )
    parser.add_argument("file", help="the failed-records file (failed_records_path), or -")
    args = parser.parse_args(argv)
    out = out or sys.stdout.buffer
    try:
        if args.file == "-":
            failed = read_lines(sys.stdin.buffer)
        else:
            with Path(args.file).open("rb") as handle:
                failed = read_lines(handle)
    except (OSError, ReplayError) as error:
        print(f"replay: {args.file}: {error}", file=sys.stderr)
        return 1
    out.writelines(singer_messages(failed))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
