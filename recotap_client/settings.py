"""The connection settings: their defaults, written once, and the rules for api_url and api_key.

The plugins declare these settings for their users (recotap_plugin_common.settings); everything
that reads them takes its defaults from here.

Reference: docs/recotap-api.md §2.1 (base URL), §2.2 (auth).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

API_KEY_HEADER = "X-Api-Key"
DEFAULT_API_URL = "https://eapi.recotap.com/api/v1"
#: Seconds a whole answer may take (`request_timeout`).
DEFAULT_REQUEST_TIMEOUT = 60
#: Attempts per request, the first included (`max_retries`).
DEFAULT_MAX_RETRIES = 8
#: Seconds of the first retry wait (`retry_base_delay`).
DEFAULT_RETRY_BASE_DELAY = 1.0
#: No retry wait (nor a Retry-After honoured) is longer than this many seconds.
MAX_RETRY_DELAY = 60.0


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
