"""A hostile HTTP server for attacking tap-recotap and target-recotap over real loopback HTTP.

recotap-sandbox stays faithful to the API docs; this server misbehaves on purpose, one scripted
answer per route: redirects, malformed paging, clock skew, bodies that trickle, endless empty
pages, 200s that confirm nothing, slow answers for signal tests. Every request it receives is
recorded (method, path, query, headers, body), so a test can check what reached it, and what did
not (e.g. an API key that must never reach a second origin).

    with HostileServer() as server:
        server.route("GET", "/api/v1/accounts", lambda request: Reply.envelope({...}))
        ... run the plugin with api_url=server.api_url ...
        assert server.requests[0].headers["X-Api-Key"] == "..."
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """What to answer: status, headers, body; optionally slowly (`delay`, `trickle`)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering at all
    trickle: float = 0.0  # seconds between body bytes (each byte its own write)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **kwargs: Any) -> Reply:
        """A JSON body."""
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        return cls(status, json.dumps(payload).encode(), headers, **kwargs)

    @classmethod
    def envelope(cls, data: Any, status: int = 200, **kwargs: Any) -> Reply:
        """The API's success envelope around `data`."""
        payload = {"statusCode": status, "message": "Success", "data": data}
        return cls.json(payload, status, **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "error", **kwargs: Any) -> Reply:
        """The API's error envelope."""
        payload = {"statusCode": status, "message": message, "data": None}
        return cls.json(payload, status, **kwargs)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """A redirect to `location`."""
        return cls(status, b"", {"Location": location})


Handler = Callable[[Request], Reply]


class HostileServer:
    """A threaded loopback HTTP server answering each route with a scripted `Handler`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: dict[tuple[str, str], Handler] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """The base URL to configure as `api_url`."""
        return self.origin + API_PREFIX

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer `method path` (path with or without the /api/v1 prefix) with `handler`."""
        full = (
            path if path.startswith(API_PREFIX) or not path.startswith("/") else API_PREFIX + path
        )
        with self._lock:
            self._routes[(method.upper(), full)] = handler

    def always(self, method: str, path: str, reply: Reply) -> None:
        """Answer `method path` with the same `reply` every time."""
        self.route(method, path, lambda _request: reply)

    def sequence(self, method: str, path: str, replies: list[Reply]) -> None:
        """Answer successive requests with `replies` in order; the last one repeats."""
        remaining = list(replies)

        def answer(_request: Request) -> Reply:
            with self._lock:
                return remaining.pop(0) if len(remaining) > 1 else remaining[0]

        self.route(method, path, answer)

    def requests_to(self, method: str, path: str) -> list[Request]:
        """Requests received for `method path` (path with or without the prefix)."""
        full = path if path.startswith(API_PREFIX) else API_PREFIX + path
        with self._lock:
            return [r for r in self.requests if r.method == method.upper() and r.path == full]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            handler = self._routes.get((request.method, request.path))
        if handler is None:
            return Reply.error(404, f"no route for {request.method} {request.path}")
        return handler(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                    received_at=time.monotonic(),
                )
                reply = server._answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.trickle:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): that is the point of some tests

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `server.requests`."""

        return _Handler
