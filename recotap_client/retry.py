"""The one retry policy: which failures are retried, how long to wait, and the final error.

Waits grow exponentially with jitter and honour `Retry-After` (up to a cap); a request that
keeps failing ends in `RecotapUnavailableError`, whose message says what the attempts ran into
and what to do about it.

Reference: docs/recotap-api.md §5 (errors), §6 (retries).
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import backoff
import requests

from recotap_client.errors import RecotapRetriableError, RecotapUnavailableError
from recotap_client.failures import describe_failure
from recotap_client.settings import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BASE_DELAY,
    MAX_RETRY_DELAY,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

_T = TypeVar("_T")

# What a retry may cure: the API asking for it (429, 5xx, an unreadable 2xx body), a timeout
# (ours too: AnswerTooSlowError is a ReadTimeout), and a connection refused, reset or cut.
_RETRIABLE: tuple[type[BaseException], ...] = (
    RecotapRetriableError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def should_retry(exception: BaseException) -> bool:
    """Whether a failed request is worth another try (the one retry decision)."""
    return isinstance(exception, _RETRIABLE)


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

    max_tries: int = DEFAULT_MAX_RETRIES
    base_delay: float = DEFAULT_RETRY_BASE_DELAY
    max_delay: float = MAX_RETRY_DELAY

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
        """Return `func` retried while `should_retry`; exhaustion raises a clear error."""
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
            Exception,
            giveup=lambda exception: not should_retry(exception),
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=log_retry,
            logger=None,
        )(func)

        def call(*args: Any, **kwargs: Any) -> _T:
            calls.rate_limited = False
            try:
                return retried(*args, **kwargs)
            except Exception as exc:
                if not should_retry(exc):
                    raise
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
    """The retry policy the connection settings in `config` ask for."""
    return RetryPolicy(
        max_tries=int(config.get("max_retries", DEFAULT_MAX_RETRIES)),
        base_delay=float(config.get("retry_base_delay", DEFAULT_RETRY_BASE_DELAY)),
    )
