"""The Recotap HTTP policy: the one place that decides how we talk to the Recotap API.

Used by tap-recotap (hooked into the SDK's RESTStream), by `http_session.RecotapSession` (the
target's client, and the tap's outside its streams) and by their tests. It owns: the auth
header and the key's form, the https rule for `api_url`, redirects (never followed: the key
would go with them), unwrapping the response envelope, classifying errors (fatal or
retriable), retrying with exponential backoff and jitter while honouring `Retry-After`, the
connection settings, and error texts that never carry the API key (it travels only in a
request header, and no message here includes headers or the key). How a failed request is
described in those texts is `http_failures`.

Reference: ../shared/recotap-api.md §2.2 (auth), §2.4 (envelope), §5 (errors), §6 (retries).
"""

from __future__ import annotations

import ipaddress
import logging
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

import backoff
import msgspec
import requests
from singer_sdk import typing as th
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_recotap.http_failures import describe_failure, describe_location, describe_request

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

API_KEY_HEADER = "X-Api-Key"
DEFAULT_API_URL = "https://eapi.recotap.com/api/v1"

_T = TypeVar("_T")
_Data = TypeVar("_Data")

#: The settings that configure this policy, declared once for tap and target alike.
CONNECTION_SETTINGS: tuple[th.Property[Any], ...] = (
    th.Property(
        "api_key",
        th.StringType(min_length=1),
        required=True,
        secret=True,
        title="API key",
        description="Recotap API key (Settings > Workspace > Tech Settings > API Access Key). "
        "API access must be enabled for the workspace by your Recotap account manager.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Recotap External API. Must be https, except for a "
        "loopback host (a local recotap-sandbox).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=60,
        title="Request timeout",
        description="Seconds to wait for each HTTP response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=1),
        default=8,
        title="Max attempts",
        description="Attempts per request (the first try included) on 429, 5xx, timeouts "
        "and dropped connections before failing.",
    ),
    th.Property(
        "retry_base_delay",
        th.NumberType(minimum=0),
        default=1.0,
        title="Retry base delay",
        description="Seconds of the first retry wait; waits double per attempt, with "
        "jitter, capped at 60 s. A longer Retry-After from the server is honoured up to the cap.",
    ),
)

# 401 for a missing key, a wrong key, or a workspace whose API access the account manager has
# not enabled yet (§2.2, §5.2: the text for the last case is not documented).
AUTH_HELP = (
    "Recotap rejected the API key (HTTP 401{detail}). Either the key is wrong or was "
    "regenerated (a new key invalidates the old one: Settings > Workspace > Tech Settings > "
    "API Access Key), or API access is not enabled for this workspace yet (ask your Recotap "
    "account manager to enable it)."
)


class InsecureAPIURLError(ValueError):
    """`api_url` would send the API key in clear text to a non-loopback host."""


def check_api_url(url: str) -> str:
    """Return `url` without a trailing slash, or refuse it if it is not https.

    Plain http is allowed only for loopback hosts (a local sandbox), because the key travels in
    a request header.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InsecureAPIURLError(f"api_url must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InsecureAPIURLError(
            f"api_url must use https (got {url!r}): the API key would travel in clear text. "
            "Plain http is accepted only for a loopback host such as a local recotap-sandbox."
        )
    return url.rstrip("/")


class InvalidAPIKeyError(ValueError):
    """`api_key` cannot be sent in a request header (the message never shows the key)."""


def clean_api_key(value: object) -> str:
    """The API key as it goes into the `X-Api-Key` header, or a refusal that never shows it.

    Surrounding whitespace is stripped: secrets read from a file usually end in a line break,
    which no header may carry. What is left must be printable ASCII: anything else (a line break
    inside it, a control or non-ASCII character) would make requests or http.client fail with a
    message that quotes the whole key.
    """
    if not isinstance(value, str):
        raise InvalidAPIKeyError(
            f"api_key must be text, got a {type(value).__name__} (its value is not shown)."
        )
    key = value.strip()
    if not key:
        raise InvalidAPIKeyError("api_key is empty or only whitespace.")
    for position, character in enumerate(key, start=1):
        if not " " <= character <= "~":
            raise InvalidAPIKeyError(
                f"api_key cannot be sent in an HTTP header: character {position} of the key "
                "(surrounding whitespace removed) is a line break, a control character or not "
                "ASCII. Check how the secret is stored (the key is not shown)."
            )
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RecotapAPIError(FatalAPIError):
    """A request Recotap refused: retrying it would not help."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        custom_message: str | None = None,
        details: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.custom_message = custom_message
        self.details = details or []


class RecotapAuthError(RecotapAPIError):
    """HTTP 401: wrong key, or API access not enabled for the workspace."""


class RecotapRedirectError(RecotapAPIError):
    """A 3xx: never followed, since the request's API key (and body) would go with it."""


class RecotapRetriableError(RetriableAPIError):
    """A 429, a 5xx, or an envelope we could not read: worth another try."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message, response)
        self.retry_after: float | None = None


class RecotapUnavailableError(RecotapAPIError):
    """Retries were exhausted."""


RETRIABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def _decode(content: bytes) -> Any:
    return msgspec.json.decode(content) if content else None


def _error_explanation(body: Any) -> tuple[str | None, list[Any]]:
    """Pull `customMessage` and the validation list out of an error body (§5.1).

    Parsed defensively: `data` may be a list of class-validator errors or null, and
    `customMessage` is optional.
    """
    if not isinstance(body, dict):
        return None, []
    custom = body.get("customMessage")
    data = body.get("data")
    details = data if isinstance(data, list) else []
    return (str(custom) if custom else None), details


def format_validation_details(details: list[Any]) -> str:
    """Render class-validator errors as `property: rule text; ...`."""
    parts = []
    for item in details:
        if isinstance(item, dict):
            constraints = item.get("constraints") or {}
            texts = ", ".join(str(v) for v in constraints.values()) or "invalid"
            parts.append(f"{item.get('property', '?')}: {texts}")
        else:
            parts.append(str(item))
    return "; ".join(parts)


def raise_for_response(response: requests.Response) -> None:
    """Raise the right exception for a non-2xx response; return for success."""
    status = response.status_code
    if status < HTTPStatus.MULTIPLE_CHOICES:
        return
    where = describe_request(response)
    if status < HTTPStatus.BAD_REQUEST:
        # The API documents no redirects (§2.1, §5). Following one would send the key header, and a
        # write's body, to wherever it points (requests keeps custom headers across hosts).
        raise RecotapRedirectError(
            f"Recotap answered {where} with a redirect (HTTP {status}) to "
            f"{describe_location(response)}; it was not followed, so neither the API key nor "
            "any data went there. The API documents no redirects: check api_url (scheme, host "
            "and the /api/v1 path) and any proxy in between.",
            status_code=status,
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        error = RecotapRetriableError(f"Recotap answered {status} to {where}", response)
        error.retry_after = retry_after_seconds(response)
        raise error
    try:
        body = _decode(response.content)
    except msgspec.DecodeError:
        body = None
    custom, details = _error_explanation(body)
    if status == HTTPStatus.UNAUTHORIZED:
        said = (body or {}).get("message") if isinstance(body, dict) else None
        detail = f': "{custom or said}"' if (custom or said) else ""
        raise RecotapAuthError(AUTH_HELP.format(detail=detail), status_code=status)
    explanation = custom or format_validation_details(details) or response.reason or "no detail"
    raise RecotapAPIError(
        f"Recotap refused {where} with HTTP {status}: {explanation}",
        status_code=status,
        custom_message=custom,
        details=details,
    )


class Envelope(msgspec.Struct, Generic[_Data]):
    """The response envelope (§2.4), as far as a client reads it: `data`, typed as asked."""

    data: _Data


_raw_data_decoder = msgspec.json.Decoder(Envelope[msgspec.Raw])
_data_decoder = msgspec.json.Decoder(Envelope[Any])


def envelope_data_json(response: requests.Response) -> msgspec.Raw:
    """The `data` member of a successful response's envelope (§2.4), still JSON text.

    The whole body is checked to be JSON, but only the envelope is built: what `data` holds is
    decoded by the caller, when and where it needs it.
    """
    return _envelope_data(response, _raw_data_decoder)


def envelope_data(response: requests.Response) -> Any:
    """The `data` member of a successful response's envelope (§2.4), decoded."""
    return _envelope_data(response, _data_decoder)


def _envelope_data(response: requests.Response, decoder: msgspec.json.Decoder[Envelope[_T]]) -> _T:
    # A 2xx body that is not the JSON envelope (a proxy's error page, a truncated body) is
    # treated as retriable rather than as an empty result.
    try:
        return decoder.decode(response.content).data
    except msgspec.ValidationError as exc:  # JSON, but no object with `data`
        raise RecotapRetriableError(
            f"Recotap sent a body without the response envelope to {describe_request(response)}",
            response,
        ) from exc
    except msgspec.DecodeError as exc:
        raise RecotapRetriableError(
            f"Recotap sent an unreadable body to {describe_request(response)}", response
        ) from exc


def retry_after_seconds(
    response: requests.Response, *, now: datetime | None = None
) -> float | None:
    """Seconds asked for by a `Retry-After` header (delta-seconds or HTTP-date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    Waits grow exponentially from `base_delay` with "equal jitter" (half fixed, half random), so
    parallel clients spread out. A `Retry-After` from the server lengthens a wait, never shortens
    it: a date already past (a server clock behind ours) must not turn the backoff into a burst
    of immediate retries. Every wait is capped at `max_delay`; a longer demand is logged as cut.
    """

    max_tries: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0

    def waits(self) -> Generator[float, Any, None]:
        """A backoff wait generator that is sent each failure's exception."""
        exception = yield 0.0
        attempt = 0
        while True:
            ceiling = min(self.max_delay, self.base_delay * 2**attempt)
            wait = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not crypto)
            asked = getattr(exception, "retry_after", None)
            if asked is not None:
                wait = min(max(wait, float(asked)), self.max_delay)
            attempt += 1
            exception = yield wait

    def wrap(self, func: Callable[..., _T], logger: logging.Logger) -> Callable[..., _T]:
        """Return `func` retried on RETRIABLE_EXCEPTIONS; exhaustion raises a clear error."""
        # Whether any attempt of the current call (per thread: the target sends from several)
        # was a 429, so that only then does the final message speak of rate limits.
        calls = threading.local()

        def log_retry(details: Mapping[str, Any]) -> None:
            exception = details.get("exception")
            calls.rate_limited = calls.rate_limited or _is_rate_limit(exception)
            logger.warning(
                "Recotap request failed (%s); attempt %d of %d, retrying in %.2f s%s",
                describe_failure(exception),
                details["tries"],
                self.max_tries,
                details["wait"],
                self._cut_demand(exception),
            )

        retried = backoff.on_exception(
            self.waits,
            RETRIABLE_EXCEPTIONS,
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=log_retry,
            logger=None,
        )(func)

        def call(*args: Any, **kwargs: Any) -> _T:
            calls.rate_limited = False
            try:
                return retried(*args, **kwargs)
            except RETRIABLE_EXCEPTIONS as exc:
                rate_limited = calls.rate_limited or _is_rate_limit(exc)
                raise RecotapUnavailableError(
                    f"Recotap still failing after {self.max_tries} attempts: "
                    f"{describe_failure(exc)}. {_advice(exc, rate_limited=rate_limited)}"
                ) from exc

        return call

    def _cut_demand(self, exception: BaseException | None) -> str:
        """What to add to a retry's log line when the server asked for more than the cap."""
        asked = getattr(exception, "retry_after", None)
        if asked is None or asked <= self.max_delay:
            return ""
        cap = self.max_delay
        return f" (Recotap asked for {asked:g} s with Retry-After; waits are capped at {cap:g} s)"


def _is_rate_limit(exception: BaseException | None) -> bool:
    response = getattr(exception, "response", None)
    return response is not None and response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def _advice(exception: BaseException, *, rate_limited: bool) -> str:
    """What to do about a request that kept failing, from what its attempts ran into."""
    if rate_limited:
        return (
            "Recotap is rate-limiting this key: run less often, or raise max_retries / "
            "retry_base_delay."
        )
    if isinstance(exception, requests.exceptions.ConnectionError):  # connect, DNS, resets
        return "Check api_url, DNS, proxy and firewall settings, or whether the API is down."
    return "The API may be down or overloaded; try again later."


def retry_policy_from_config(config: Mapping[str, Any]) -> RetryPolicy:
    """The retry policy the CONNECTION_SETTINGS in `config` ask for."""
    return RetryPolicy(
        max_tries=int(config.get("max_retries", 8)),
        base_delay=float(config.get("retry_base_delay", 1.0)),
    )
