"""Write batches in flight: several at once, but never one that could overtake a write it follows.

One `InFlightBatches` per run. The main thread (reading Singer messages) hands it each batch and
goes on reading while worker threads send. A batch starts only when

- fewer batches are in flight than the pace allows (`recotap_client.concurrency`: a number
  that grows while answers come back fast and without 429 and falls sharply on a 429 or when
  answer times climb, never above `max_in_flight_batches`), and, when Recotap rate-limits
  below one request per answer time, the pace's gap since the previous start has passed;
- no batch of another stream is in flight: a later stream may refer to this one's records
  (mappings, deals and activities name accounts by domain, §2.8), so a stream switch waits for
  every earlier write to be confirmed;
- no in-flight batch of the same stream shares a key with it (the domain for accounts): two
  writes of one key reach Recotap in input order, retries included, so the later one wins.

Batches overlap only while it pays: when recent batches came back within `INLINE_BELOW`
seconds (a fast, near API), waiting is a small part of the run and handing each batch to
another thread would cost more CPU than it saves time (~18% more CPU per record, measured
against a local sandbox). Then a batch is sent in the calling thread once nothing else is in
flight, as a sequential loop would; as soon as batches take longer, they go back in flight.

The first error of a background batch (401, retries exhausted, a bug) is raised in the main
thread, after the other batches in flight have finished, at the next `submit` or `wait`; no
batch starts after it. `wait` returns only when every batch handed over so far is confirmed:
the target calls it before emitting STATE.

A signal (SIGTERM, SIGINT) raises an exception in the main thread wherever it is, possibly in
the middle of `submit` or of a batch it sends inline; `close` then waits only for the batches
the worker threads are sending (their outcomes are recorded), never for the main thread's own.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recotap_client.concurrency import AdaptiveConcurrency, ConcurrencyReport

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


INLINE_BELOW = 0.010  # seconds: a typical batch faster than this is sent in the calling thread
_SMOOTHING = 0.2  # weight of the latest batch in the typical duration
# While waiting for a slot, look again this often: the pace may allow more in flight as time
# passes, not only when a batch finishes.
_RECHECK_SECONDS = 0.05


@dataclass(frozen=True, eq=False)
class _Batch:
    stream: str
    keys: frozenset[str]
    sender: int | None = None  # the thread sending it in its own stack (sent inline)

    def sent_by_another_thread(self) -> bool:
        """True unless the calling thread is sending this batch itself (inline)."""
        return self.sender != threading.get_ident()


class InFlightBatches:
    """Runs write batches on up to `limit` worker threads, keeping the order writes depend on.

    `pace` decides how many may be in flight and how soon the next may start; without one,
    always `limit` (fixed concurrency).
    """

    def __init__(self, limit: int, pace: AdaptiveConcurrency | None = None) -> None:
        self.pace = pace or AdaptiveConcurrency(limit, adaptive=False)
        self.limit = self.pace.ceiling
        self._changed = threading.Condition()
        self._running: list[_Batch] = []
        self._error: Exception | None = None
        self._typical: float | None = None  # smoothed duration of recent batches, seconds
        self._pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="recotap-send")

    def submit(self, stream: str, keys: Iterable[str], send: Callable[[], None]) -> None:
        """Start `send()` in the background as soon as the rules above allow (blocks until then).

        Raises the error of an earlier background batch instead of starting this one.
        """
        with self._changed:
            inline = self._typical is not None and self._typical < INLINE_BELOW
            batch = _Batch(stream, frozenset(keys), threading.get_ident() if inline else None)
            self._wait_for_turn(batch, alone=inline)
            self._raise_failure()
            self._running.append(batch)
            self.pace.started()
        if not inline:
            self._pool.submit(self._run, batch, send)
            return
        self._run(batch, send)
        with self._changed:
            self._raise_failure()

    def wait(self) -> None:
        """Block until every batch in flight is done; raise the first background error."""
        with self._changed:
            self._changed.wait_for(lambda: not self._running)
            self._raise_failure()

    def close(self) -> None:
        """Wait for the worker threads' batches (without raising) and stop the threads.

        Safe after a signal interrupted the calling thread anywhere: a batch it was sending
        inline is not waited for (it can no longer finish).
        """
        with self._changed:
            self._changed.wait_for(self._only_own_batches_left)
        self._pool.shutdown(wait=True)

    def in_flight(self) -> int:
        """How many batches are being sent right now."""
        with self._changed:
            return len(self._running)

    def _only_own_batches_left(self) -> bool:
        return not any(batch.sent_by_another_thread() for batch in self._running)

    def _wait_for_turn(self, batch: _Batch, *, alone: bool) -> None:
        """Called with the lock held: return once `batch` may start (or a batch failed)."""
        while self._error is None:
            if not self._may_start(batch, alone=alone):
                self._changed.wait(_RECHECK_SECONDS)
                continue
            delay = self.pace.start_delay()
            if delay <= 0:
                return
            self._changed.wait(delay)

    def _may_start(self, batch: _Batch, *, alone: bool) -> bool:
        if len(self._running) >= (1 if alone else self.pace.in_flight_limit()):
            return False
        return all(
            other.stream == batch.stream and other.keys.isdisjoint(batch.keys)
            for other in self._running
        )

    def _raise_failure(self) -> None:
        """Called with the lock held: after a failure, let the others finish, then raise it."""
        if self._error is None:
            return
        self._changed.wait_for(lambda: not self._running)
        raise self._error

    def _run(self, batch: _Batch, send: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            send()
        except Exception as error:  # noqa: BLE001 (re-raised in the main thread)
            with self._changed:
                if self._error is None:
                    self._error = error
        finally:
            self.pace.finished()
            with self._changed:
                self._running.remove(batch)
                self._note_duration(time.monotonic() - started)
                self._changed.notify_all()

    def _note_duration(self, seconds: float) -> None:
        """Update the typical batch duration (called with the lock held)."""
        previous = seconds if self._typical is None else self._typical
        self._typical = previous + _SMOOTHING * (seconds - previous)


def pace_line(pace: ConcurrencyReport) -> str:
    """The run's write pace for its summary: where it settled, and the 429s it met."""
    if not pace.adaptive:
        settled = f"fixed at {pace.ceiling} request(s) in flight"
    elif pace.rate is not None:
        settled = (
            f"settled at {pace.window:.2f} request(s) in flight ({pace.rate:.1f} requests/s), "
            f"ceiling {pace.ceiling}"
        )
    else:
        settled = f"settled at {pace.window:.2f} request(s) in flight, ceiling {pace.ceiling}"
    return (
        f"{settled}; {pace.mean_in_flight:.2f} in flight on average; "
        f"{pace.rate_limited} of {pace.answers} answer(s) were 429 (rate limited)"
    )
