"""Millisecond timestamps: the write clock, ISO-8601 formatting and parsing."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

# Extended ISO-8601 only: a date, optionally a time (minutes, seconds, fraction), optionally an
# offset. class-validator's isISO8601 accepts more exotic forms; these are the ones clients send.
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_FRACTION_RE = re.compile(r"[.,](\d+)")


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_us(text: str) -> int | None:
    """Parse an ISO-8601 date or datetime into epoch microseconds; None when it is not one.

    A value without an offset is taken as UTC (our choice, §8 question 3).
    """
    if not _ISO_RE.match(text):
        return None
    # fromisoformat wants at most 6 fraction digits and a dot.
    normalised = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        moment = datetime.fromisoformat(normalised.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Clock:
    """Hands out write stamps that strictly increase, and read marks that precede later writes.

    Choice (docs/sandbox.md, §8 question 3): one stamp per write operation; if the wall clock has
    not advanced a millisecond since the last stamp, the next stamp is last + 1 ms. A read mark
    never goes backwards and every later write stamp is greater than it, so a client that keeps
    a page's ``syncTimestamp`` and sends it as ``lastSync`` misses no later write.
    """

    def __init__(self, floor_ms: int = 0) -> None:
        self._last = floor_ms

    def write_stamp(self) -> int:
        """Return the stamp for a new write: > every earlier stamp and read mark."""
        self._last = max(now_ms(), self._last + 1)
        return self._last

    def read_mark(self) -> int:
        """Return the ``syncTimestamp`` for a read: >= every earlier write stamp."""
        self._last = max(now_ms(), self._last)
        return self._last
