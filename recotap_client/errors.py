"""What a Recotap request can end in: the client's own exception types.

Fatal (`RecotapAPIError` and its kinds: retrying would not help) or retriable
(`RecotapRetriableError`, and `AnswerTooSlowError`, our transport's timeout). None of them
carries the API key in its message. Which answer is which error is `answers`; whether a failure
is retried is `retry.should_retry`.
"""

from __future__ import annotations

from typing import Any

import requests


class RecotapError(Exception):
    """Base of every error the Recotap client raises for an answer of the API."""


class RecotapAPIError(RecotapError):
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


class RecotapUnavailableError(RecotapAPIError):
    """Retries were exhausted."""


class RecotapRetriableError(RecotapError):
    """A 429, a 5xx, or an envelope we could not read: worth another try."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response
        self.retry_after: float | None = None


class AnswerTooSlowError(requests.exceptions.ReadTimeout):
    """A response still arriving when `request_timeout` ran out (retried like any timeout)."""
