"""One call at a time in a background thread: how the tap fetches the next page while it writes.

`RecotapStream.request_records` hands the request for page N+1 to a `BackgroundCaller` before it
yields the records of page N, and waits for it only when page N is written. The call is the
stream's own retried request (`RetryPolicy.wrap`), so retries, waits and the error that ends them
happen in the worker exactly as they would in the main thread, and `Future.result()` re-raises
that error, unchanged, where the SDK's page loop would have raised it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from typing_extensions import Self

_T = TypeVar("_T")
_Job = tuple["Future[_T]", "Callable[..., _T]", tuple[Any, ...]]


class BackgroundCaller(Generic[_T]):
    """A single daemon worker thread running submitted calls one after another, in order.

    A daemon thread rather than a `ThreadPoolExecutor`: the interpreter joins executor workers at
    exit, so an interrupted run (SIGTERM, Ctrl-C) would first wait for a request whose page it no
    longer needs, retries included. Use as a context manager; leaving it lets the worker finish
    its current call, if any, and end.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: SimpleQueue[_Job[_T] | None] = SimpleQueue()
        self._started = threading.Semaphore(0)
        self._thread: threading.Thread | None = None

    def submit(self, func: Callable[..., _T], *args: Any) -> Future[_T]:
        """Start `func(*args)`; the future holds its value or the exception it raised.

        Returns once the worker has taken the call. Otherwise the caller, busy in Python code
        (writing records), could hold the GIL for a whole switch interval (5 ms) before the
        worker gets to send its request: waiting hands the GIL over, and the worker keeps it
        until its first blocking I/O, the request going out.
        """
        future: Future[_T] = Future()
        self._jobs.put((future, func, args))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        self._started.acquire()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, func, args = job
            self._started.release()
            try:
                future.set_result(func(*args))
            except BaseException as exc:  # noqa: BLE001 (handed over: `future.result()` raises it)
                future.set_exception(exc)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._jobs.put(None)
