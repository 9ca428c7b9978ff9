"""A producer in a background thread, handing its items over one at a time: the tap's read-ahead.

`FastRESTStream` runs its whole page chain (request, response, next cursor, next request) in a
`Prefetcher` thread, so the next request leaves as soon as a response is read, without waiting
for the main thread; the main thread only takes pages and writes their records. The hand-over
holds one item: the producer runs at most one item ahead of the one waiting, then waits itself.
An exception raised by the producer reaches the consumer after every item produced before it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType
    from typing import Self

_T = TypeVar("_T")


class Prefetcher(Generic[_T]):
    """Runs `produce(prefetcher)` in a daemon thread and yields what it `put`s, in order.

    The producer's side is `put` and `wait_for_room`; both wait while an earlier item is still
    waiting for the consumer, and return False once the consumer has left (the producer should
    then stop). A daemon thread rather than an executor: the interpreter joins executor workers
    at exit, so an interrupted run (SIGTERM, Ctrl-C) would first wait for a request whose page
    it no longer needs, retries included. Use as a context manager; leaving it lets the
    producer finish its current step and stop.
    """

    def __init__(self, name: str, produce: Callable[[Prefetcher[_T]], None]) -> None:
        self._produce = produce
        self._changed = threading.Condition()
        self._waiting: deque[_T] = deque()
        self._finished = False
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def wait_for_room(self) -> bool:
        """Wait until no item is waiting; False if the consumer has left. Only the producer
        adds items, so a `put` right after this returns True does not wait."""
        with self._changed:
            return self._room_made()

    def put(self, item: _T) -> bool:
        """Hand `item` over, after waiting for room; False if the consumer has left."""
        with self._changed:
            if not self._room_made():
                return False
            self._waiting.append(item)
            self._changed.notify_all()
            return True

    def _room_made(self) -> bool:
        # With `_changed` held: wait while an item is waiting; whether the consumer is still here.
        while self._waiting and not self._closed:
            self._changed.wait()
        return not self._closed

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._produce(self)
        except BaseException as exc:  # noqa: BLE001 (handed over: the consumer raises it)
            error = exc
        with self._changed:
            self._finished, self._error = True, error
            self._changed.notify_all()

    def __iter__(self) -> Iterator[_T]:
        """The items put; then the producer's exception, if it raised one."""
        self._thread.start()
        while True:
            with self._changed:
                while not self._waiting and not self._finished:
                    self._changed.wait()
                if not self._waiting:
                    break
                item = self._waiting.popleft()
                self._changed.notify_all()
            yield item
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
