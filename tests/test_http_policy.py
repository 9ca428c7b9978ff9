"""The shared Recotap HTTP policy: the parts that need no server (URL rule, waits, Retry-After).

Retries, 401s and error texts over real HTTP are exercised against the sandbox in the tap and
target suites.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from recotap_client.answers import format_validation_details
from recotap_client.errors import RecotapRetriableError
from recotap_client.retry import RetryPolicy, retry_after_seconds
from recotap_client.settings import InsecureAPIURLError, check_api_url


def _response_with_retry_after(value: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    if value is not None:
        response.headers["Retry-After"] = value
    return response


@pytest.mark.parametrize(
    "url",
    [
        "https://eapi.recotap.com/api/v1",
        "http://127.0.0.1:8787/api/v1",
        "http://localhost:8787/api/v1/",
        "http://[::1]:8787/api/v1",
    ],
)
def test_https_or_loopback_urls_are_accepted(url):
    assert check_api_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["http://eapi.recotap.com/api/v1", "http://10.0.0.5/api/v1", "ftp://x/api", "eapi.recotap.com"],
)
def test_plain_http_to_a_remote_host_is_refused(url):
    with pytest.raises(InsecureAPIURLError, match="api_url"):
        check_api_url(url)


def test_retry_after_in_seconds():
    assert retry_after_seconds(_response_with_retry_after("7")) == 7.0


def test_retry_after_as_http_date():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(_response_with_retry_after(header), now=now) == 30.0


def test_retry_after_in_the_past_or_unreadable_or_absent():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(_response_with_retry_after(past), now=now) == 0.0
    assert retry_after_seconds(_response_with_retry_after("soon")) is None
    assert retry_after_seconds(_response_with_retry_after(None)) is None


def _waits(policy: RetryPolicy, exceptions: list[Exception]) -> list[float]:
    generator = policy.waits()
    generator.send(None)
    return [generator.send(exception) for exception in exceptions]


def test_waits_grow_exponentially_with_jitter_and_stay_under_the_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    waits = _waits(policy, [ConnectionResetError()] * 6)
    ceilings = [1, 2, 4, 5, 5, 5]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_a_longer_retry_after_replaces_the_computed_wait_and_is_capped():
    policy = RetryPolicy(base_delay=0.01, max_delay=60.0)
    asked, too_long = RecotapRetriableError("429"), RecotapRetriableError("429")
    asked.retry_after, too_long.retry_after = 3.0, 3600.0
    assert _waits(policy, [asked, too_long]) == [3.0, 60.0]


def test_a_retry_after_in_the_past_or_shorter_keeps_the_backoff_wait():
    # A date already past reads as 0 s: it must not turn the backoff into immediate retries.
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    past, short = RecotapRetriableError("429"), RecotapRetriableError("429")
    past.retry_after, short.retry_after = 0.0, 0.1
    waits = _waits(policy, [past, short, past])
    for wait, ceiling in zip(waits, [1, 2, 4], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_validation_details_are_rendered_property_by_property():
    details = [
        {"property": "ownerEmail", "constraints": {"isEmail": "ownerEmail must be an email"}},
        {"property": "accounts", "constraints": {}},
    ]
    assert format_validation_details(details) == (
        "ownerEmail: ownerEmail must be an email; accounts: invalid"
    )
