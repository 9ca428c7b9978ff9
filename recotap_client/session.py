"""The Recotap API client session: `requests.Session` with the client's policy applied.

Used by target-recotap for every write and by tap-recotap outside its streams (discovery). Adds
what a long-lived, multi-threaded client needs on top of the policy: a 429 pause shared by all
threads of the session, and the environment read once per session instead of per request.
Also the transport both plugins send through (`DeadlineAdapter`): `request_timeout` bounds a
whole answer, not each socket read.

Reference: docs/recotap-api.md §6 (retries).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from recotap_client.answers import raise_for_response
from recotap_client.envelope import envelope_data
from recotap_client.errors import AnswerTooSlowError
from recotap_client.failures import describe_request
from recotap_client.paging import Page, read_page
from recotap_client.retry import RetryPolicy, retry_after_seconds, retry_policy_from_config
from recotap_client.settings import (
    API_KEY_HEADER,
    DEFAULT_API_URL,
    DEFAULT_REQUEST_TIMEOUT,
    check_api_url,
    clean_api_key,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_T = TypeVar("_T")

# Up to this much of a body per read (one socket read at most), between deadline checks.
_READ_SIZE = 256 * 1024

_json_encoder = msgspec.json.Encoder(decimal_format="number")


def session_from_config(
    config: Mapping[str, Any], *, user_agent: str, logger: logging.Logger
) -> RecotapSession:
    """A session configured by the connection settings in `config`."""
    return RecotapSession(
        config.get("api_url", DEFAULT_API_URL),
        config["api_key"],
        retry=retry_policy_from_config(config),
        timeout=float(config.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)),
        user_agent=user_agent,
        logger=logger,
    )


def read_environment_once(http: requests.Session, url: str) -> str | bool:
    """Read the proxy and CA-bundle environment for `http` now, not on every request.

    With `trust_env` on, requests re-reads every environment variable and ~/.netrc on each call:
    about a fifth of the client CPU of a 100-item write. All requests of a session go to one
    host, so the answer cannot change: HTTPS_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE keep
    working. (.netrc credentials are never wanted: the key is the auth.) Returns what each
    request passes as `verify`: the CA bundle, or True (certifi's); never False.
    """
    http.proxies.update(requests.utils.get_environ_proxies(url))
    http.trust_env = False
    return os.environ.get("REQUESTS_CA_BUNDLE") or True


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with `timeout` bounding the whole answer, body included.

    requests applies a timeout to the connection and to each socket read: a server that sends a
    byte every few seconds keeps a request alive forever. Here the body is read one socket read
    at most at a time, each allowed only what is left of the time since the request was sent;
    once that is gone the answer is abandoned with `AnswerTooSlowError` (a `ReadTimeout`, so the
    retry policy retries it like any timeout). The status line and headers are still bounded
    per read by requests; the answer as a whole is checked once they are in.
    """

    @override
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if stream or not isinstance(timeout, (int, float)):
            return super().send(request, stream, timeout, verify, cert, proxies)
        deadline = time.monotonic() + timeout
        response = super().send(
            request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        try:
            body = read_body_by(response, deadline, timeout)
        except BaseException:
            response.close()
            raise
        # What `Response.content` leaves after reading the body itself (requests has no public
        # way to hand a response its body).
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]  # untyped in the stubs
        return response


def read_body_by(response: requests.Response, deadline: float, timeout: float) -> bytes:
    """The body of a streamed `response`, read before `deadline` (`time.monotonic()`) passes.

    Errors are requests' own for the same failures (as `Response.content` raises them), so the
    retry policy sees what it would have seen; a body still arriving at the deadline, or a
    silence that outlasts it, is `AnswerTooSlowError`.
    """
    raw = response.raw
    chunks: list[bytes] = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow(response, timeout)
            _limit_next_read(raw, remaining)
            chunk = raw.read1(_READ_SIZE, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _too_slow(response, timeout) from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc, request=response.request) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=response.request) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc, request=response.request) from exc


def _limit_next_read(raw: urllib3.BaseHTTPResponse, seconds: float) -> None:
    """Let the next socket read wait at most `seconds` (urllib3 resets it per request)."""
    connection = raw.connection
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _too_slow(response: requests.Response, timeout: float) -> AnswerTooSlowError:
    return AnswerTooSlowError(
        f"the answer to {describe_request(response)} was still incomplete after "
        f"request_timeout ({timeout:g} s)",
        request=response.request,
        response=response,
    )


class PauseGate:
    """A pause shared by every thread of one session: a 429 holds back all of its requests.

    §6: honour `Retry-After`. With several requests in flight (the target), sleeping only in the
    thread that got the 429 would let the others keep hitting the limit; so the 429 closes this
    gate and no request of the session starts until it reopens.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opens_at = 0.0

    def close_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (a longer pause already set wins)."""
        with self._lock:
            self._opens_at = max(self._opens_at, time.monotonic() + seconds)

    def wait(self) -> None:
        """Return once the gate is open."""
        while True:
            with self._lock:
                delay = self._opens_at - time.monotonic()
            if delay <= 0:
                return
            time.sleep(delay)


class RecotapSession:
    """A thread-safe enough client for the Recotap API, with the policy above applied.

    Used by the target and by the tap outside its streams (discovery, connection test).
    `requests.Session` is shared across threads by the SDK's parallel drains; urllib3's pool is
    thread-safe for this use.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        user_agent: str = "recotap-singer",
        logger: logging.Logger | None = None,
    ) -> None:
        self.api_url = check_api_url(api_url)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.logger = logger or logging.getLogger("recotap")
        self.http = requests.Session()
        for prefix in ("https://", "http://"):
            self.http.mount(prefix, DeadlineAdapter())
        self.http.headers.update(
            {
                API_KEY_HEADER: clean_api_key(api_key),
                "User-Agent": user_agent,
                "Accept": "application/json",
            }
        )
        self._ca_bundle = read_environment_once(self.http, self.api_url)
        self.pause = PauseGate()
        self._templates: dict[tuple[str, str, bool], requests.PreparedRequest] = {}
        self._send = self.retry.wrap(self._send_once, self.logger)
        # Told of every answer (status, seconds it took), retries included; e.g. the target's
        # `AdaptiveConcurrency`, which paces writes by them. Called in the sending thread.
        self.on_answer: Callable[[int, float], None] | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request (retried by the policy) and return the envelope's `data`."""
        return self._send(method, path, params, json, envelope_data)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return the envelope's `data`."""
        return self.request("GET", path, params=params)

    def get_page(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Page, requests.Response]:
        """GET one page of a list (retried by the policy): the page, and the answer it came in
        (which the paging rule names in its errors)."""
        answer: tuple[Page, requests.Response] = self._send(
            "GET", path, params, None, _page_and_response
        )
        return answer

    def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        read: Callable[[requests.Response], _T],
    ) -> _T:
        request = self._prepare(method, path, params, body)
        self.pause.wait()
        started = time.monotonic()
        # Never follow a redirect: the key header (and a write's body) would go with it.
        response = self.http.send(
            request, timeout=self.timeout, verify=self._ca_bundle, allow_redirects=False
        )
        self.logger.debug(
            "%s %s -> %d in %.3f s", method, path, response.status_code, time.monotonic() - started
        )
        if self.on_answer is not None:
            self.on_answer(response.status_code, time.monotonic() - started)
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            self._pause_after_429(response)
        raise_for_response(response)
        # Read inside the retried call: an unreadable 2xx body is retried like a 5xx.
        return read(response)

    def _prepare(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> requests.PreparedRequest:
        """The request, as `requests.Session.request` would prepare it, only cheaper.

        Requests to one method and path differ only in query and body: each is a copy of one
        prepared per method and path, with its own query and body. requests' full preparation
        (merging session headers, cookies and auth, parsing the URL) was a tenth of the target's
        CPU. (The API sets no cookies; the key is a header.)
        """
        key = (method, path, body is not None)
        template = self._templates.get(key)
        if template is None:
            headers = {"Content-Type": "application/json"} if body is not None else None
            template = self.http.prepare_request(
                requests.Request(method, f"{self.api_url}{path}", headers=headers)
            )
            self._templates[key] = template
        request = template.copy()
        if params:
            request.prepare_url(request.url, params)
        if body is not None:
            request.prepare_body(_json_encoder.encode(body), None)
        return request

    def _pause_after_429(self, response: requests.Response) -> None:
        """Close the gate for the Retry-After, at least the first backoff wait, at most the cap."""
        asked = retry_after_seconds(response) or 0.0
        pause = min(self.retry.max_delay, max(self.retry.base_delay, asked))
        self.logger.info("Recotap asked to slow down: holding every request for %.2f s", pause)
        self.pause.close_for(pause)

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()


def _page_and_response(response: requests.Response) -> tuple[Page, requests.Response]:
    return read_page(response), response
