"""How many write requests to keep in flight, found while the run goes (no singer-sdk, no I/O).

Recotap documents no rate limit (docs/recotap-api.md §6), yet a workspace may have one; the
fastest push is the one that runs just under it, whatever it is. `AdaptiveConcurrency` finds it
from the answers alone, the way TCP finds a link's capacity, and tells the sender two things:
how many requests may be in flight (`in_flight_limit`) and how soon the next may start
(`start_delay`). It holds a sending *rate*; the window (requests in flight) is that rate times
the answer time of an unloaded request (`base_seconds`). A window below 1 means one request at
a time with a pause after each: at 50 ms answers, 10 requests/s is a window of 0.5, which no
whole number of threads can express.

The rules, and why:

- **Start**: two requests in flight, one more per round trip (TCP's additive increase) while
  answers come back fast and without 429, up to the user's ceiling. Fast enough to fill the
  ceiling in a few round trips where there is no limit.
- **A 429 is a congestion event**: the rate is cut at once. A token-bucket limiter answers 429
  exactly when its bucket is empty, so each 429 event is a moment when Recotap had nothing left
  to give; between two such moments it admitted exactly its refill rate. The new rate is the
  rate of admitted (non-429) answers since the previous event, a little under it (the limit,
  measured); at the first event, with nothing to measure from, half the current rate. Every
  429 answering a request sent before the cut belongs to the same event (it was sent at the
  old rate) and cuts nothing more.
- **Answer times climbing is a congestion event too** (a server queueing our requests): the
  rate is scaled by base/observed answer time (a gradient rule), at most halved.
- **After an event, probing**: the rate grows slowly at first and faster the longer the
  answers stay clean (exponential growth whose rate itself grows with time), so the push sits
  near a limit it has found for seconds, yet finds a limit that was lifted within ~10 s.

The pause after a 429 itself (every request of the session waits out `Retry-After`) is the
session's job (`session.PauseGate`); this class only decides the pace once it reopens.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

RATE_LIMITED = 429

# Requests in flight before the first answer: two, so that one slow first answer does not hold
# everything up (TCP starts with more than one segment in flight too, RFC 3390).
INITIAL_WINDOW = 2

# Cut to this share of the measured admitted rate: just under the limit, so the bucket refills.
MEASURED_SHARE = 0.95
# The cut at the first 429, when there is no earlier empty-bucket moment to measure from.
FIRST_CUT = 0.5
# An admitted rate is measured over at least this long (a shorter span is mostly noise).
MIN_MEASURE_SECONDS = 0.5
# An answer slower than SLOW_FACTOR x base + SLOW_MARGIN seconds means the server is queueing.
SLOW_FACTOR = 2.0
SLOW_MARGIN = 0.020
# Probing after an event: log(rate / rate at the event) grows as GROWTH_A*t + GROWTH_B*t**2.
GROWTH_A = 0.02
GROWTH_B = 0.006
# The base answer time is the fastest of the last BASE_WINDOW clean answers.
BASE_WINDOW = 50
# Never slower than one request per this many seconds (a lower rate would only stall the run).
MAX_GAP_SECONDS = 5.0


@dataclass(frozen=True)
class ConcurrencyReport:
    """What the run met, for its summary line."""

    window: float  # requests in flight the current rate amounts to
    rate: float | None  # requests per second it allows; None when not limited by pace
    mean_in_flight: float  # time-weighted mean of requests actually in flight
    rate_limited: int  # answers that were 429
    answers: int  # answers seen (429s included)
    ceiling: int
    adaptive: bool


class AdaptiveConcurrency:
    """The pace of write requests: a thread-safe controller fed with every answer.

    `ceiling` is the most requests ever in flight (`max_in_flight_batches`). With
    `adaptive=False` the limit is always the ceiling and nothing is paced (the old behaviour).
    `clock` is injectable so tests can drive time.
    """

    def __init__(
        self,
        ceiling: int,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.adaptive = adaptive
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._started_at = now
        self._recent: deque[float] = deque(maxlen=BASE_WINDOW)  # clean answer times
        self._base: float | None = None
        # Before the first event: the window grows by one per base answer time since `_since`.
        self._found_limit = False
        self._since = now  # when the current growth phase began (start, or the last event)
        self._window_at_since = float(min(INITIAL_WINDOW, self.ceiling))
        self._rate_at_since = 0.0  # requests/s set at the last event
        self._event_at: float | None = None  # last congestion event (a moment with no tokens)
        self._admitted_since_event = 0
        self._last_start = -math.inf
        self._rate_limited = 0
        self._answers = 0
        # Time-weighted in-flight mean: integral of in-flight count over time.
        self._in_flight = 0
        self._in_flight_changed = now
        self._in_flight_area = 0.0

    # --- what the sender asks -------------------------------------------------------------------

    def in_flight_limit(self) -> int:
        """How many requests may be in flight now (1..ceiling)."""
        with self._lock:
            if not self.adaptive:
                return self.ceiling
            return min(self.ceiling, max(1, math.ceil(self._window(self._clock()) - 1e-9)))

    def start_delay(self) -> float:
        """Seconds to wait before the next request may start (0: now)."""
        with self._lock:
            rate = self._pace(self._clock())
            if rate is None:
                return 0.0
            return max(0.0, self._last_start + 1.0 / rate - self._clock())

    def started(self) -> None:
        """A request (a batch) starts now."""
        with self._lock:
            now = self._clock()
            self._last_start = now
            self._note_in_flight(now, +1)

    def finished(self) -> None:
        """A request (a batch) is done, whatever its outcome."""
        with self._lock:
            self._note_in_flight(self._clock(), -1)

    # --- what the session reports ----------------------------------------------------------------

    def answered(self, status: int, seconds: float) -> None:
        """One HTTP answer came back: its status and how long it took (every attempt)."""
        with self._lock:
            now = self._clock()
            self._answers += 1
            sent_at = now - seconds
            if status == RATE_LIMITED:
                self._rate_limited += 1
                if self.adaptive and self._after_last_event(sent_at):
                    self._rate_limited_event(now)
                return
            self._admitted_since_event += 1
            self._recent.append(seconds)
            self._base = min(self._recent)
            if self.adaptive and self._is_slow(seconds) and self._after_last_event(sent_at):
                self._slow_event(now, seconds)

    # --- report ---------------------------------------------------------------------------------

    def report(self) -> ConcurrencyReport:
        """The window and pace it settled at, the mean in flight, the 429s."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._started_at
            area = self._in_flight_area + self._in_flight * (now - self._in_flight_changed)
            window = self._window(now) if self.adaptive else float(self.ceiling)
            return ConcurrencyReport(
                window=min(window, float(self.ceiling)),
                rate=self._pace(now),
                mean_in_flight=area / elapsed if elapsed > 0 else 0.0,
                rate_limited=self._rate_limited,
                answers=self._answers,
                ceiling=self.ceiling,
                adaptive=self.adaptive,
            )

    # --- the rules (called with the lock held) ----------------------------------------------------

    def _window(self, now: float) -> float:
        """Requests in flight the current rate amounts to (capped at the ceiling)."""
        if not self._found_limit:
            if self._base is None:
                return self._window_at_since
            grown = self._window_at_since + (now - self._since) / self._base
            return min(float(self.ceiling), grown)
        rate = self._rate(now)
        base = self._base or 0.0
        return min(float(self.ceiling), rate * base)

    def _rate(self, now: float) -> float:
        """Requests per second allowed once a limit was met: probing growth since the event."""
        t = now - self._since
        return self._rate_at_since * math.exp(GROWTH_A * t + GROWTH_B * t * t)

    def _pace(self, now: float) -> float | None:
        """Requests per second to space starts by, or None when only the window counts."""
        if not self.adaptive or not self._found_limit or self._base is None:
            return None
        if self._window(now) >= self.ceiling:
            return None  # the ceiling binds: the window alone keeps the pace
        return self._rate(now)

    def _current_rate(self, now: float) -> float:
        """The rate in force right now, in requests per second."""
        if self._found_limit:
            return self._rate(now)
        base = self._base or 1.0
        return self._window(now) / base

    def _after_last_event(self, sent_at: float) -> bool:
        """Whether a request sent at `sent_at` already went at the pace of the last event."""
        return self._event_at is None or sent_at >= self._event_at

    def _is_slow(self, seconds: float) -> bool:
        base = self._base
        return base is not None and seconds > SLOW_FACTOR * base + SLOW_MARGIN

    def _rate_limited_event(self, now: float) -> None:
        current = self._current_rate(now)
        measured = None
        if self._event_at is not None and now - self._event_at >= MIN_MEASURE_SECONDS:
            # Empty at the last event, empty again now: what came through in between is
            # what the limit refilled (a little less if the bucket overflowed meanwhile).
            measured = self._admitted_since_event / (now - self._event_at)
        if measured is None:
            new = current * FIRST_CUT
        else:
            # Always a decrease (the 429 says "too fast"), to the measured limit at most.
            new = min(current * 0.9, measured * MEASURED_SHARE)
        self._set_rate(now, new)

    def _slow_event(self, now: float, seconds: float) -> None:
        factor = max(0.5, (self._base or seconds) / seconds)
        if self._found_limit:
            self._set_rate(now, self._current_rate(now) * factor)
            return
        # Queueing is not a rate limit: scale back, but keep growing by one per round trip.
        self._window_at_since = max(1.0, self._window(now) * factor)
        self._since = now
        self._event_at = now
        self._admitted_since_event = 0

    def _set_rate(self, now: float, rate: float) -> None:
        self._found_limit = True
        self._rate_at_since = max(rate, 1.0 / MAX_GAP_SECONDS)
        if self._base is not None:  # never more than the ceiling's worth
            self._rate_at_since = min(self._rate_at_since, self.ceiling / self._base)
        self._since = now
        self._event_at = now
        self._admitted_since_event = 0

    def _note_in_flight(self, now: float, change: int) -> None:
        self._in_flight_area += self._in_flight * (now - self._in_flight_changed)
        self._in_flight_changed = now
        self._in_flight = max(0, self._in_flight + change)
