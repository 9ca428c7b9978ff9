"""Outcome bookkeeping: per-stream counters and the failed-records file.

Thread-safe: the SDK drains up to 8 sinks in threads, and they all report here.
"""

from __future__ import annotations

import logging
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


class FailedRecordsFile:
    """Appends one JSON line per refused or failed record: stream, record, reason, time."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def write(self, stream: str, record: dict[str, Any], reason: str) -> None:
        """Append one line (no-op when no path is configured)."""
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as handle:
                handle.write(data)


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
        self.failed_records.write(stream, record, reason)

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
