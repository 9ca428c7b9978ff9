"""Outcome bookkeeping: per-stream counters and the failed-records file.

Thread-safe: the SDK drains up to 8 sinks in threads, and they all report here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import msgspec

# Outcomes a record can have. "existing" = the API already held it (a re-run, or a retry after a
# lost response): delivered, not a failure. "refused" = never sent, rejected by local checks.
CREATED = "created"
UPDATED = "updated"
EXISTING = "existing"
SKIPPED = "skipped"
FAILED = "failed"
REFUSED = "refused"
SUPERSEDED = "superseded"  # replaced by a later record of the same key in its batch (not sent)
DRY_RUN = "would_send"


def _encode_unknown(value: Any) -> Any:
    return str(value)  # anything msgspec cannot encode natively is kept as text, not lost


# Records may hold Decimals and datetimes: numbers stay numbers, datetimes become RFC 3339.
_encoder = msgspec.json.Encoder(decimal_format="number", enc_hook=_encode_unknown)


class FailedRecordsPathError(OSError):
    """`failed_records_path` cannot be written (checked at start-up, or a write failed)."""


class FailedRecordsFile:
    """Appends one JSON line per refused or failed record: stream, record, reason, time.

    Each line is written whole or not at all: a write that fails half-way (a full disk) is cut
    back, so every line of the file can be read and replayed.
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Fail now, before any input is read, if the file cannot be opened for appending.

        Raises `FailedRecordsPathError`. A file that did not exist is not left behind.
        """
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.exists()
            with self.path.open("ab"):
                pass
            if not existed:
                self.path.unlink()
        except OSError as error:
            raise self._error("cannot be written", error) from error

    def write(self, stream: str, record: dict[str, Any], reason: str) -> None:
        """Append one line (no-op when no path is configured); raises FailedRecordsPathError."""
        if self.path is None:
            return
        line = {
            "stream": stream,
            "record": record,
            "reason": reason,
            "time": datetime.now(UTC).isoformat(),
        }
        data = _encoder.encode(line) + b"\n"
        with self._lock:
            try:
                _append_whole(self.path, data)
            except OSError as error:
                raise self._error("could not be written", error) from error

    def _error(self, what: str, error: OSError) -> FailedRecordsPathError:
        cause = error.strerror or str(error)
        return FailedRecordsPathError(f"failed_records_path {str(self.path)!r} {what}: {cause}")


def _append_whole(path: Path, data: bytes) -> None:
    """Append `data` to `path` entirely, or leave the file as it was (if it can be cut back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
        except OSError:
            _cut_back(fd, start)
            raise
        if written != len(data):  # a full disk (or a file size limit) mid-line
            _cut_back(fd, start)
            message = f"only {written} of {len(data)} bytes could be written"
            raise OSError(errno.ENOSPC, message)
    finally:
        os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    """Truncate a half-written line away (no torn last line); not possible on e.g. /dev/full."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)


class RunReport:
    """Counts outcomes per stream and reports failed records (file + log)."""

    ORDER: ClassVar[tuple[str, ...]] = (
        CREATED,
        UPDATED,
        EXISTING,
        SKIPPED,
        FAILED,
        REFUSED,
        SUPERSEDED,
    )

    def __init__(self, failed_records: FailedRecordsFile, logger: logging.Logger) -> None:
        self.failed_records = failed_records
        self.logger = logger
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}
        self._requests: Counter[str] = Counter()

    def count(self, stream: str, outcome: str, number: int = 1) -> None:
        """Add `number` records with `outcome` to `stream`'s tally."""
        with self._lock:
            self._counts.setdefault(stream, Counter())[outcome] += number

    def count_request(self, stream: str) -> None:
        """Note one API write request made for `stream`."""
        with self._lock:
            self._requests[stream] += 1

    def fail(
        self, stream: str, outcome: str, record: dict[str, Any], key: str, reason: str
    ) -> None:
        """Count a refused/failed record, log it with its key, and append it to the file."""
        self.count(stream, outcome)
        verb = "refused locally" if outcome == REFUSED else "failed"
        self.logger.error("%s: record %s %s: %s", stream, key, verb, reason)
        try:
            self.failed_records.write(stream, record, reason)
        except FailedRecordsPathError as error:
            # Going on would emit STATE past a failure the file does not list: stop the run.
            self.logger.error(  # noqa: TRY400 (the reason, not a traceback)
                "%s. The run stops without emitting STATE, so the next run handles this "
                "record again; free space or fix the path, then re-run.",
                error,
            )
            raise

    def streams(self) -> list[str]:
        """Streams seen so far, in first-seen order."""
        with self._lock:
            return list(self._counts)

    def counts(self, stream: str) -> dict[str, int]:
        """A copy of `stream`'s outcome counts."""
        with self._lock:
            return dict(self._counts.get(stream, Counter()))

    def failures(self) -> int:
        """Records refused locally or failed by the API, over all streams."""
        with self._lock:
            return sum(c[FAILED] + c[REFUSED] for c in self._counts.values())

    def summary_line(self, stream: str) -> str:
        """One human line: `accounts: 120 created, 3 failed ... in 2 requests`."""
        counts = self.counts(stream)
        parts = [f"{counts.get(name, 0)} {name}" for name in (*self.ORDER, DRY_RUN)]
        shown = [p for p in parts if not p.startswith("0 ")] or ["no records"]
        with self._lock:
            requests = self._requests[stream]
        return f"{stream}: {', '.join(shown)} ({requests} write requests)"
