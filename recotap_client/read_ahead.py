"""Read-ahead: the next page of a list is requested while the current one is being used.

Each page's request needs the previous page's cursor, so the pages of a list come one after
another whatever the client does. What it can do is not add its own work to that chain: here a
page iterator (e.g. `paging.list_pages`) runs in a background thread, and as soon as a page is
handed to the consumer, the thread asks the iterator for the next one, whose request leaves
while the consumer works on the page it was given.

- **At most one page ahead.** The next page is handed over only when the consumer asks for it,
  and only after that is the request for the page after it sent: while the consumer works on
  page N, at most page N+1 is being fetched or waiting. Memory stays flat however long the list.
- **Errors in order.** An exception raised by the iterator (the paging rule refusing a page,
  retries exhausted) reaches the consumer when it asks for the page that failed: after every
  page before it.
- **The consumer may leave at any time** (an exception, a signal, the generator closed): the
  thread stops at its next hand-over, never sends another request, and being a daemon thread it
  never delays the process's exit for a request in flight (an executor's workers are joined at
  exit, retries and their waits included).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType
    from typing import Self

_T = TypeVar("_T")


class _Empty:
    """Nothing handed over yet (a page may be any value, None included)."""


_EMPTY = _Empty()


class ReadAhead(Generic[_T]):
    """Iterates `pages` in a daemon thread, one page ahead of the consumer.

    Use as a context manager, so that leaving the block (normally or not) stops the thread:

        with ReadAhead(list_pages(session, "/segments", limit=100)) as pages:
            for page in pages:
                ...

    The first page's request leaves as the block is entered.
    """

    def __init__(self, pages: Iterator[_T], *, name: str = "recotap-read-ahead") -> None:
        self._pages = pages
        self._changed = threading.Condition()
        self._wanted = False  # the consumer is waiting for a page
        self._handed: _T | _Empty = _EMPTY  # a page handed over, not yet taken
        self._exhausted = False  # the iterator is exhausted or raised
        self._error: BaseException | None = None
        self._left = False  # the consumer has left: stop
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._start()
        return self

    def _start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread at its next hand-over; no request is sent after this."""
        with self._changed:
            self._left = True
            self._changed.notify_all()

    def __iter__(self) -> Iterator[_T]:
        return self

    def __next__(self) -> _T:
        self._start()  # used without `with`: from the first page asked for
        with self._changed:
            self._wanted = True
            self._changed.notify_all()
            while isinstance(self._handed, _Empty) and not self._exhausted:
                self._changed.wait()
            if not isinstance(self._handed, _Empty):
                page, self._handed = self._handed, _EMPTY
                return page
            self._wanted = False
            error, self._error = self._error, None
        if error is not None:
            raise error
        raise StopIteration

    def _produce(self) -> None:
        """The thread: fetch a page, wait until it is asked for, hand it over, fetch the next."""
        error: BaseException | None = None
        try:
            for page in self._pages:
                if not self._hand_over(page):
                    break
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, who raises it)
            error = exc
        finally:
            with self._changed:
                self._exhausted, self._error = True, error
                self._changed.notify_all()
            close = getattr(self._pages, "close", None)  # a generator's `finally`s run here
            if close is not None and error is None:
                close()

    def _hand_over(self, page: _T) -> bool:
        """Wait until the consumer asks, then give it `page`; False if the consumer has left."""
        with self._changed:
            while not self._wanted and not self._left:
                self._changed.wait()
            if self._left:
                return False
            self._handed, self._wanted = page, False
            self._changed.notify_all()
            return True
