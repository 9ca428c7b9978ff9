"""A Recotap API client session: `requests.Session` with the policy of `http_policy` applied.

Used by target-recotap for every write and by tap-recotap outside its streams (discovery). Adds
what a long-lived, multi-threaded client needs on top of the policy: a 429 pause shared by all
threads of the session, and the environment read once per session instead of per request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
import requests

from tap_recotap.http_policy import (
    API_KEY_HEADER,
    DEFAULT_API_URL,
    RetryPolicy,
    check_api_url,
    envelope_data,
    raise_for_response,
    retry_after_seconds,
    retry_policy_from_config,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

_json_encoder = msgspec.json.Encoder(decimal_format="number")


def session_from_config(
    config: Mapping[str, Any], *, user_agent: str, logger: logging.Logger
) -> RecotapSession:
    """A session configured by the CONNECTION_SETTINGS in `config`."""
    return RecotapSession(
        config.get("api_url", DEFAULT_API_URL),
        config["api_key"],
        retry=retry_policy_from_config(config),
        timeout=float(config.get("request_timeout", 60)),
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
        timeout: float = 60.0,
        user_agent: str = "recotap-singer",
        logger: logging.Logger | None = None,
    ) -> None:
        self.api_url = check_api_url(api_url)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.logger = logger or logging.getLogger("recotap")
        self.http = requests.Session()
        self.http.headers.update(
            {API_KEY_HEADER: api_key, "User-Agent": user_agent, "Accept": "application/json"}
        )
        self._ca_bundle = read_environment_once(self.http, self.api_url)
        self.pause = PauseGate()
        self._templates: dict[tuple[str, str, bool], requests.PreparedRequest] = {}
        self._send = self.retry.wrap(self._send_once, self.logger)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request (retried by the policy) and return the envelope's `data`."""
        return self._send(method, path, params, json)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` and return the envelope's `data`."""
        return self.request("GET", path, params=params)

    def _send_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> Any:
        request = self._prepare(method, path, params, body)
        self.pause.wait()
        started = time.monotonic()
        response = self.http.send(request, timeout=self.timeout, verify=self._ca_bundle)
        self.logger.debug(
            "%s %s -> %d in %.3f s", method, path, response.status_code, time.monotonic() - started
        )
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            self._pause_after_429(response)
        raise_for_response(response)
        return envelope_data(response)

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
        """Close the gate for the Retry-After (without one: the first backoff wait)."""
        asked = retry_after_seconds(response)
        pause = min(self.retry.max_delay, self.retry.base_delay if asked is None else asked)
        self.logger.info("Recotap asked to slow down: holding every request for %.2f s", pause)
        self.pause.close_for(pause)

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()
