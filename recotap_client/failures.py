"""How a failed request is described: one line saying what failed, with whom, and why.

A job of its own: requests and urllib3 nest four or five exceptions for a refused connection,
and their texts repeat the pool and URL at every level. A description never includes headers
(the key) nor a query string: method, path, host and port, and the operating system's reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from recotap_client.errors import AnswerTooSlowError, RecotapRetriableError

if TYPE_CHECKING:
    from collections.abc import Generator


def describe_request(response: requests.Response) -> str:
    """`METHOD /path` of the request behind a response (no query string, no headers)."""
    return _describe_prepared(response.request)


def _describe_prepared(request: requests.PreparedRequest | None) -> str:
    path = urlsplit(request.url or "").path if request is not None else ""
    method = request.method if request is not None else "?"
    return f"{method} {path}"


def host_and_port(url: str) -> str:
    """`host:port` of a URL (the scheme's default port when none is given)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def describe_location(response: requests.Response) -> str:
    """Where a redirect points: scheme, host, port and path (no query, no credentials)."""
    location = response.headers.get("Location")
    if not location:
        return "no Location given"
    target = urlsplit(urljoin(response.request.url or "", location.strip()))
    if target.scheme not in {"http", "https"} or not target.hostname:
        return f"an unusable Location ({location.strip()[:200]!r})"
    return f"{target.scheme}://{host_and_port(target.geturl())}{target.path}"


def describe_failure(exception: BaseException | None) -> str:
    """A one-line description of a request failure: what went wrong, with whom, and why.

    Never the headers (the key), never requests' nested exception texts: host and port, the
    request's method and path, and the operating system's reason.
    """
    if exception is None:
        return "unknown error"
    if isinstance(exception, (RecotapRetriableError, AnswerTooSlowError)):
        return str(exception)
    if isinstance(exception, requests.exceptions.RequestException):
        return _describe_transport_failure(exception)
    return f"{type(exception).__name__}: {exception}"


def _describe_transport_failure(exception: requests.exceptions.RequestException) -> str:
    request = exception.request
    url = getattr(request, "url", None) or ""
    where = host_and_port(url) if url else "the API"
    what = _describe_prepared(request) if isinstance(request, requests.PreparedRequest) else "?"
    if isinstance(exception, requests.exceptions.ConnectTimeout):
        return f"cannot connect to {where}: timed out (request_timeout)"
    if isinstance(exception, requests.exceptions.Timeout):
        return f"{where} sent no answer to {what} within request_timeout"
    if isinstance(exception, requests.exceptions.ConnectionError) and _never_sent(exception):
        return f"cannot connect to {where}: {_root_reason(exception)}"
    return f"the connection to {where} broke during {what}: {_root_reason(exception)}"


def _causes(exception: BaseException) -> Generator[BaseException, None, None]:
    """`exception` and what it wraps: urllib3's `reason`, exception arguments, causes."""
    seen: set[int] = set()
    pending = [exception]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), *current.args]
        wrapped += [current.__cause__, current.__context__]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))


def _never_sent(exception: BaseException) -> bool:
    """Whether the request failed before reaching the server (connection or name lookup)."""
    return any(
        isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in _causes(exception)
    )


def _root_reason(exception: BaseException) -> str:
    """The innermost reason of a request failure, e.g. `Connection refused`."""
    innermost = exception
    for cause in _causes(exception):
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror)
        innermost = cause
    return str(innermost) or type(innermost).__name__
