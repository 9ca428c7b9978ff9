"""The streams' requests transport adapter: a hook right after a request is sent, and one
connection-pool lookup per host, on top of the policy's `DeadlineAdapter` (request_timeout
bounds a whole answer).

Both serve the prefetch thread (fast_stream), where everything between a response and the next
request adds to the wall time of a sync (measured at 50 ms latency, docs/tap.md "Performance"):

- `after_request_sent` runs a callback the moment a request has been written to its connection,
  before the answer is read. The prefetch thread hands a page to the main thread there: once the
  next request is on the wire, the main thread decodes and writes that page while the prefetch
  thread waits. Handed over earlier, the main thread's long GIL-holding steps (decoding and
  encoding a page of records) delayed the request they overlapped, by 1.5 ms in most pages.
  The hook sits in urllib3's extension point for it, the pool's `ConnectionCls`. Requests
  through a proxy use urllib3's proxy pools and never run the callback, so callers must not
  depend on it running.
- requests looks the connection pool up afresh for every request (0.1 ms of the 1.3 ms between
  a response and the next request); the adapter keeps the pool per scheme, host, port and TLS
  settings, and looks it up again once it has been closed.

(requests reads a body in 10 KiB chunks, each a trip through urllib3; `DeadlineAdapter` reads
it in reads of up to 256 KiB, which also keeps that cost away.)
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool

from recotap_client.session import DeadlineAdapter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from requests import PreparedRequest

_pending = threading.local()  # `callback`: what to run after this thread's next request is sent


@contextmanager
def after_request_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Run `callback` once, in this thread, right after its next request through a session
    with `TapTransportAdapter` mounted has been sent; forget it on leaving if it never ran."""
    _pending.callback = callback
    try:
        yield
    finally:
        _pending.callback = None


class _HTTPConnection(HTTPConnection):
    @override
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        callback = getattr(_pending, "callback", None)
        if callback is not None:
            _pending.callback = None
            callback()


class _HTTPSConnection(_HTTPConnection, HTTPSConnection):
    pass


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class TapTransportAdapter(DeadlineAdapter):
    """The policy's adapter, with connections that run `after_request_sent` callbacks and the
    connection pool kept per host."""

    def __init__(self) -> None:
        self._pools: dict[tuple[Any, ...], ConnectionPool] = {}
        super().__init__()

    @override
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _HTTPConnectionPool,
            "https": _HTTPSConnectionPool,
        }

    @override
    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        # "scheme://host:port" of a prepared URL (which always has a path), and what else
        # decides the pool. A pool closed meanwhile has no `pool` left: look it up again.
        origin = (request.url or "").split("/", 3)[:3]
        key = (*origin, verify, cert, tuple(proxies.items()) if proxies else ())
        pool = self._pools.get(key)
        if pool is None or getattr(pool, "pool", None) is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            self._pools[key] = pool
        return pool

    @override
    def close(self) -> None:
        self._pools.clear()
        super().close()
