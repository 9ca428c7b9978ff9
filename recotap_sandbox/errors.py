"""The two error kinds of §5.1, raised by handlers and rendered by the envelope middleware."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response: an HTTP status plus the body members that go into the envelope."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


class ValidationError(ApiError):
    """§5.1 validation error: 400, ``message: "Bad Request"``, ``data`` = constraint list."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(400, {"message": "Bad Request", "data": problems})


class BusinessError(ApiError):
    """§5.1 business error: ``message`` = HTTP reason, ``customMessage`` = why, ``data: null``."""

    def __init__(
        self, status: int, custom_message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {"message": REASONS[status], "customMessage": custom_message, "data": None}
        super().__init__(status, body, headers)


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
