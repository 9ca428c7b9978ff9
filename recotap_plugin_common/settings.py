"""The connection settings, declared once for tap and target alike (their defaults are the
client's: recotap_client.settings)."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from recotap_client.settings import (
    DEFAULT_API_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_BASE_DELAY,
    MAX_RETRY_DELAY,
)

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
        default=DEFAULT_REQUEST_TIMEOUT,
        title="Request timeout",
        description="Seconds to wait for each HTTP response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=1),
        default=DEFAULT_MAX_RETRIES,
        title="Max attempts",
        description="Attempts per request (the first try included) on 429, 5xx, timeouts "
        "and dropped connections before failing.",
    ),
    th.Property(
        "retry_base_delay",
        th.NumberType(minimum=0),
        default=DEFAULT_RETRY_BASE_DELAY,
        title="Retry base delay",
        description="Seconds of the first retry wait; waits double per attempt, with "
        f"jitter, capped at {MAX_RETRY_DELAY:g} s. A longer Retry-After from the server is "
        "honoured up to the cap.",
    ),
)
