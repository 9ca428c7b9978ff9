"""How many write requests to keep in flight, found while the run goes (no singer-sdk, no I/O).

Recotap documents no rate limit (docs/recotap-api.md §6), yet a workspace may have one; the
fastest push is the one that runs just under it, whatever it is. `AdaptiveConcurrency` finds it
from the answers alone, the way TCP finds a link's capacity, and tells the sender two things:
how many requests may be in flight (`in_flight_limit`) and how soon the next may start
(`start_delay`). Once a limit was met it holds a sending *rate*; the window (requests in
flight) is that rate times the answer time of an unloaded request (`base`). A window below 1
means one request at a time with a pause after each: at 50 ms answers, 10 requests/s is a
window of 0.5, which no whole number of threads can express.

The rules, and why:

- **Start**: two requests in flight, one more every two round trips while answers come back
  fast and without 429 (half TCP's additive increase), up to the user's ceiling. A limiter
  with a burst lets any pace through until its burst is spent; the requests in flight at that
  moment beyond what it refills are all answered 429, so the slower the window grows, the
  fewer they are. Without a limit the ceiling is still reached within a few tenths of a second.
- **A 429 is a congestion event**, and the rate is cut at once. A token-bucket limiter answers
  429 exactly when its bucket is empty, so each 429 event is a moment when Recotap had nothing
  left to give, and between two such moments it let through exactly what it refilled: the
  rate of admitted (non-429) answers between them *is* the limit, measured. At the first
  event there is no earlier empty moment, but the start of the run bounds it: a limiter of N
  requests a second saves up at most a second's worth (`SAVED_SECONDS`), so what came through
  since the start, over the time since the start plus that second, is at most the limit,
  and exactly it when the bucket was full. The pace goes on a little under the measured limit
  (never above the pace that met the 429: at least halved the first time, as TCP's ssthresh),
  so the bucket refills. A first 429 after only a handful of requests (a key another program
  had just used up) bounds nothing worth going by: then the pace restarts from one request at
  a time (TCP Tahoe), climbing to half the pace that met it, and the next 429 measures.
  Every 429 to a request sent before the cut belongs to the same event (it was sent at the
  old rate) and cuts nothing more.
- **After a 429 event, probing** follows TCP CUBIC's curve, counted in answers rather than in
  time: the rate climbs back to the measured limit over `PLATEAU` answers, stays near it, then
  grows faster and faster (cubically) with every further clean answer. A limit is thus
  re-tested every few hundred requests, and a lifted limit is left behind within a few hundred.
- **Answer times climbing is a congestion event too** (a server queueing our requests): when
  even the fastest of the last few answers took over twice the base, the pace is scaled by
  base/that answer time (a gradient rule), at most halved,
  at most once per round trip. Queueing is not a rate limit: growth goes on as before.

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

# The ceiling when the user sets none (`max_in_flight_batches`): without a limit, six 50 ms
# writes in flight push 20,000 accounts in a fifth less time than four, start-up included; at
# 60 requests a second (three in flight at 50 ms) the overshoot when a one-second burst runs
# out stays a few 429s. (Measured: the rate-limited pushes in the benchmark, README.md.)
DEFAULT_CEILING = 6
# Requests in flight before the first answer: two, so that one slow first answer does not hold
# everything up (TCP starts with more than one segment in flight too, RFC 3390).
INITIAL_WINDOW = 2
# Window growth per round trip of clean answers before any 429 (see "Start" above).
GROWTH = 0.5
# After a 429 event the curve restarts at this share of where it levels out.
MEASURED_SHARE = 0.95
# A limiter of N requests a second lets at most this many seconds' worth through at once (a
# token bucket of N, the usual form). One that lets more through at once makes the first
# estimate too high; the next 429 then measures.
SAVED_SECONDS = 1.0
# A first 429 after fewer admitted requests than this bounds the limit too loosely to go by.
FEW_ADMITTED = 5
# A measurement spans at least this long (shorter: mostly the noise of a few answers).
MIN_MEASURE_SECONDS = 0.5
# Answers it takes to climb back to the measured limit after a cut (CUBIC's K, in answers).
PLATEAU = 80
# The last SLOW_ANSWERS answers all slower than SLOW_FACTOR x base + SLOW_MARGIN seconds mean
# the server is queueing our requests. (One slow answer means nothing: a busy machine, a
# garbage collection, a slow item.)
SLOW_ANSWERS = 5
SLOW_FACTOR = 2.0
SLOW_MARGIN = 0.020
# The base answer time is the fastest of the last BASE_WINDOW clean answers.
BASE_WINDOW = 50
# Never slower than one request per this many seconds: below that, let the Retry-After of the
# 429s pace the run (a pace collapsing towards zero would take minutes to climb back).
MAX_GAP_SECONDS = 1.0
# Climbing counts at least this many answers a second, so that a low pace climbs back in
# seconds, not minutes (from a pace of 1 a second to 10 in under a minute). Not more: at 10
# requests a second a faster clock would probe twice as often.
MIN_ANSWERS_PER_SECOND = 10.0


@dataclass(frozen=True)
class ConcurrencyReport:
    """What the run met, for its summary line."""

    window: float  # requests in flight the current pace amounts to
    rate: float | None  # requests per second it spaces starts by; None: the window alone
    mean_in_flight: float  # time-weighted mean of requests actually in flight
    rate_limited: int  # answers that were 429
    answers: int  # answers seen (429s included)
    ceiling: int
    adaptive: bool


class AdaptiveConcurrency:
    """The pace of write requests: a thread-safe controller fed with every answer.

    `ceiling` is the most requests ever in flight (`max_in_flight_batches`). With
    `adaptive=False` the limit is always the ceiling and nothing is paced (fixed concurrency).
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
        # Before any 429: the window, GROWTH more per round trip (GROWTH/window per answer).
        self._window_now = float(min(INITIAL_WINDOW, self.ceiling))
        # After a 429: the measured limit (requests/s) the rate climbs back to and beyond.
        self._limit: float | None = None
        self._depth = 1.0 - MEASURED_SHARE  # how far below `_limit` the curve starts
        self._event_at: float | None = None  # the last congestion event
        self._emptied_at_event = False  # whether it was a 429 (the limiter had nothing left)
        self._admitted = 0  # non-429 answers since the last event
        self._starts = 0  # requests started since the last event
        # The latest starts: enough to cover every request still in flight.
        self._recent_starts: deque[float] = deque(maxlen=2 * self.ceiling + 2)
        self._first_start: float | None = None
        self._last_start = -math.inf
        self._rate_limited = 0
        self._answers = 0
        self._in_flight = 0
        self._in_flight_changed = now
        self._in_flight_area = 0.0  # integral of requests in flight over time

    # --- what the sender asks -------------------------------------------------------------------

    def in_flight_limit(self) -> int:
        """How many requests may be in flight now (1..ceiling)."""
        with self._lock:
            if not self.adaptive:
                return self.ceiling
            return min(self.ceiling, max(1, math.ceil(self._window() - 1e-9)))

    def start_delay(self) -> float:
        """Seconds to wait before the next request may start (0: now)."""
        with self._lock:
            now = self._clock()
            rate = self._pace(now)
            if rate is None:
                return 0.0
            return max(0.0, self._last_start + 1.0 / rate - now)

    def started(self) -> None:
        """A request (a batch) starts now."""
        with self._lock:
            now = self._clock()
            self._last_start = now
            if self._first_start is None:
                self._first_start = now
            self._starts += 1
            self._recent_starts.append(now)
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
                if self._base is None:
                    # No clean answer yet: this one's time stands in until one comes.
                    self._base = seconds
                if (
                    self.adaptive
                    and self._sent_after_last_event(sent_at)
                    and self._may_cut_again(now)
                ):
                    self._rate_limited_event(now, sent_at)
                return
            if self._event_at is None or sent_at >= self._event_at:
                # Admitted after the last event (an answer to a request sent before it was
                # admitted from the bucket the event found empty: not part of the refill).
                self._admitted += 1
            self._recent.append(seconds)
            self._base = min(self._recent)
            if not self.adaptive:
                return
            queued = min(list(self._recent)[-SLOW_ANSWERS:])
            if self._is_slow(queued):
                if self._sent_after_last_event(sent_at):
                    self._slow_event(queued)
            elif self._limit is None and not self._is_slow(seconds):
                self._window_now = min(
                    float(self.ceiling), self._window_now + GROWTH / self._window_now
                )

    # --- report ---------------------------------------------------------------------------------

    def report(self) -> ConcurrencyReport:
        """The window and pace it settled at, the mean in flight, the 429s."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._started_at
            area = self._in_flight_area + self._in_flight * (now - self._in_flight_changed)
            return ConcurrencyReport(
                window=self._window() if self.adaptive else float(self.ceiling),
                rate=self._pace(now),
                mean_in_flight=area / elapsed if elapsed > 0 else 0.0,
                rate_limited=self._rate_limited,
                answers=self._answers,
                ceiling=self.ceiling,
                adaptive=self.adaptive,
            )

    # --- the rules (called with the lock held) ----------------------------------------------------

    def _window(self) -> float:
        """Requests in flight the current pace amounts to, at most the ceiling."""
        if self._limit is None or self._base is None:
            return self._window_now
        return min(float(self.ceiling), self._rate() * self._base)

    def _rate(self) -> float:
        """Requests per second once a limit was met: CUBIC's curve, `_admitted` answers after
        the cut. It starts at `_limit * (1 - _depth)`, flattens out at `_limit` after PLATEAU
        answers, then grows faster and faster."""
        assert self._limit is not None  # noqa: S101 (only called once a limit was met)
        since = self._clock() - (self._event_at or 0.0)
        answers = max(self._admitted, since * MIN_ANSWERS_PER_SECOND)
        x = (answers - PLATEAU) / PLATEAU
        return self._limit * (1.0 + self._depth * x**3)

    def _pace(self, now: float) -> float | None:
        """Requests per second to space starts by, or None when the window alone counts."""
        if not self.adaptive or self._limit is None or self._base is None:
            return None
        if self._window() >= self.ceiling:
            return None
        return self._rate()

    def _current_rate(self, now: float) -> float:
        """The pace in force right now, in requests per second."""
        if self._limit is not None:
            return self._rate()
        return self._window() / (self._base or 1.0)

    def _sent_after_last_event(self, sent_at: float) -> bool:
        """Whether a request sent at `sent_at` already went at the pace set by the last event.

        A round trip of grace: a request sent just after the event, before the session's pause
        for that 429 took hold, still went at the old pace.
        """
        return self._event_at is None or sent_at >= self._event_at + (self._base or 0.0)

    def _may_cut_again(self, now: float) -> bool:
        """A second 429 within MIN_MEASURE_SECONDS of a cut is the same episode: the session
        pauses after each 429 anyway, and halving again and again would sink the pace."""
        return self._event_at is None or now - self._event_at >= MIN_MEASURE_SECONDS

    def _is_slow(self, seconds: float) -> bool:
        base = self._base
        return base is not None and seconds > SLOW_FACTOR * base + SLOW_MARGIN

    def _rate_limited_event(self, now: float, sent_at: float) -> None:
        current = self._current_rate(now)
        if self._emptied_at_event:
            # Empty at the last event, empty again now: what came through in between is what
            # the limit refilled (a little less if the bucket overflowed meanwhile). Counted
            # are the answers to requests sent since then and answered by now, that is, sent
            # up to an answer time ago (an underestimate, if anything: the requests admitted
            # but still in flight are not counted).
            span = now - (self._event_at or now) - (self._base or 0.0)
            measured = self._admitted / max(span, MIN_MEASURE_SECONDS / 2)
            # The curve levels out at the measured limit, under the pace that met the 429
            # (a multiplicative decrease), and starts a little lower.
            level = min(measured, current * 0.9)
            self._restart(now, level, level * MEASURED_SHARE, emptied=True)
            return
        # Since the first request (or a slow-answer cut) the limiter may have given what it
        # had saved up besides what it refilled; with at most SAVED_SECONDS' worth saved up,
        # this is a lower bound of the limit. Every request started before the one this 429
        # answers was admitted, answered yet or not (a 429 comes back faster than an answer
        # to 100 accounts).
        since = self._event_at if self._event_at is not None else self._first_start
        if since is None:  # a 429 before any batch started (a lookup's)
            since = sent_at
        later = sum(1 for start in self._recent_starts if start > sent_at)
        admitted = max(0, self._starts - later - 1)
        if admitted < FEW_ADMITTED:
            # Too few to bound anything (a key another program had just used up): TCP
            # Tahoe's restart, from one request at a time up to half the pace that met the
            # 429; the next 429 measures.
            one_at_a_time = 1.0 / (self._base or 1.0)
            self._restart(now, current / 2, min(current / 2, one_at_a_time), emptied=True)
            return
        bound = admitted / (max(0.0, sent_at - since) + SAVED_SECONDS)
        # The curve levels out at the bound, under the pace that met the 429, and starts a
        # little lower, at most at half that pace (TCP's ssthresh).
        level = min(bound, current * 0.9)
        self._restart(now, level, min(level * MEASURED_SHARE, current / 2), emptied=True)

    def _slow_event(self, seconds: float) -> None:
        now = self._clock()
        factor = max(0.5, (self._base or seconds) / seconds)
        if self._limit is not None:
            slower = self._current_rate(now) * factor
            self._restart(now, slower, slower * MEASURED_SHARE, emptied=False)
            return
        self._window_now = max(1.0, self._window_now * factor)
        self._mark_event(now, emptied=False)

    def _restart(self, now: float, limit: float, start: float, *, emptied: bool) -> None:
        """Go on at `start` requests per second, climbing to `limit` and beyond by the curve.

        `emptied`: the event was a 429 (the limiter had nothing left), not slow answers.
        """
        lowest = 1.0 / MAX_GAP_SECONDS
        highest = self.ceiling / self._base if self._base else math.inf
        limit = min(max(limit, lowest), highest)
        start = min(max(start, lowest), limit)
        self._limit = limit
        self._depth = max(1.0 - MEASURED_SHARE, 1.0 - start / limit)
        self._mark_event(now, emptied=emptied)

    def _mark_event(self, now: float, *, emptied: bool) -> None:
        """A congestion event now: the counts of the next measurement start from zero."""
        self._event_at = now
        self._admitted = 0
        self._starts = 0
        self._emptied_at_event = emptied

    def _note_in_flight(self, now: float, change: int) -> None:
        self._in_flight_area += self._in_flight * (now - self._in_flight_changed)
        self._in_flight_changed = now
        self._in_flight = max(0, self._in_flight + change)
