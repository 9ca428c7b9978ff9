"""The retry policy's promises no in-process test checked (docs/mutation.md, `retry.py`).

The retry log line and the final error, word for word (429 vs 5xx vs a refused connection), the
jitter's full range, a Retry-After as an HTTP date without a time zone, and the settings read
from the config. The failures are real answers run through `raise_for_response`, or a real
refused connection on loopback; `time.sleep` and `random.uniform` are patched only to make a
wait exact (and instant).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from recotap_client.answers import raise_for_response
from recotap_client.errors import RecotapUnavailableError
from recotap_client.retry import RetryPolicy, retry_after_seconds, retry_policy_from_config

ACCOUNTS = "http://127.0.0.1:9/api/v1/accounts"
RATE_LIMIT_ADVICE = (
    "Recotap is rate-limiting this key: run less often, or raise max_retries / retry_base_delay."
)
DOWN_ADVICE = "The API may be down or overloaded; try again later."


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The waits backoff sleeps (instantly), each at the top of its jitter range."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    return waits


def _answer(status: int, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.request = requests.Request("GET", ACCOUNTS).prepare()
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def _answering(*answers: requests.Response):
    """A request function getting each answer in turn (as the session's would)."""
    pending = iter(answers)

    def send() -> None:
        raise_for_response(next(pending))

    return send


def _final_error(policy: RetryPolicy, send) -> str:
    with pytest.raises(RecotapUnavailableError) as failure:
        policy.wrap(send, logging.getLogger("recotap.test"))()
    return str(failure.value)


def _retry_lines(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]


def test_a_retry_is_logged_once_naming_the_failure_the_attempt_and_the_wait(slept, caplog):
    policy = RetryPolicy(max_tries=2, base_delay=2.0)

    with caplog.at_level(logging.INFO):
        _final_error(policy, _answering(_answer(503), _answer(503)))

    # One line per retry, ours: backoff's own "Backing off ..." lines would repeat it.
    assert _retry_lines(caplog) == [
        "recotap.test: Recotap request failed (Recotap answered 503 to GET /api/v1/accounts); "
        "attempt 1 of 2, retrying in 2.00 s"
    ]
    assert slept == [2.0]


@pytest.mark.parametrize(
    ("retry_after", "note"),
    [
        ("2", ""),  # exactly the cap: nothing was cut
        ("3600", " (Recotap asked for 3600 s with Retry-After; waits are capped at 2 s)"),
    ],
)
def test_a_retry_after_is_said_to_be_cut_only_when_above_the_cap(slept, caplog, retry_after, note):
    policy = RetryPolicy(max_tries=2, base_delay=0.5, max_delay=2.0)

    with caplog.at_level(logging.WARNING):
        _final_error(policy, _answering(_answer(429, retry_after), _answer(429, retry_after)))

    assert _retry_lines(caplog) == [
        "recotap.test: Recotap request failed (Recotap answered 429 to GET /api/v1/accounts); "
        f"attempt 1 of 2, retrying in 2.00 s{note}"
    ]
    assert slept == [2.0]


@pytest.mark.parametrize(
    ("statuses", "ending"),
    [
        ((503, 503), f"answered 503 to GET /api/v1/accounts. {DOWN_ADVICE}"),
        # A 429 anywhere among the attempts, first or last, is what the advice speaks of.
        ((429, 503), f"answered 503 to GET /api/v1/accounts. {RATE_LIMIT_ADVICE}"),
        ((503, 429), f"answered 429 to GET /api/v1/accounts. {RATE_LIMIT_ADVICE}"),
        ((429,), f"answered 429 to GET /api/v1/accounts. {RATE_LIMIT_ADVICE}"),
    ],
)
def test_the_final_error_blames_rate_limits_only_after_a_429(slept, statuses, ending):
    policy = RetryPolicy(max_tries=len(statuses), base_delay=0.5)

    message = _final_error(policy, _answering(*(_answer(status) for status in statuses)))

    assert message == f"Recotap still failing after {len(statuses)} attempts: Recotap {ending}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_the_final_error_for_a_refused_connection_points_at_the_settings(slept):
    port = _closed_port()

    def send() -> None:
        requests.get(f"http://127.0.0.1:{port}/api/v1/accounts", timeout=5)

    message = _final_error(RetryPolicy(max_tries=2, base_delay=0.5), send)

    assert message == (
        f"Recotap still failing after 2 attempts: cannot connect to 127.0.0.1:{port}: "
        "Connection refused. Check api_url, DNS, proxy and firewall settings, or whether the "
        "API is down."
    )


def test_a_bare_connection_reset_is_retried_like_any_other(slept):
    # should_retry accepts a ConnectionResetError that no library wrapped (no `response`).
    def send() -> None:
        raise ConnectionResetError("Connection reset by peer")

    message = _final_error(RetryPolicy(max_tries=2, base_delay=0.5), send)

    assert message == (
        "Recotap still failing after 2 attempts: ConnectionResetError: Connection reset by peer. "
        f"{DOWN_ADVICE}"
    )
    assert slept == [0.5]


def test_the_jitter_reaches_the_whole_upper_half_of_each_wait(slept):
    # Equal jitter: half of each ceiling fixed, the other half random, up to the full ceiling.
    waits = RetryPolicy(base_delay=1.0, max_delay=5.0).waits()
    waits.send(None)

    assert [waits.send(ConnectionResetError()) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize(
    "header",
    [
        "Mon Nov 23 12:00:30 2026",  # asctime, an HTTP-date with no zone: GMT
        "Mon, 23 Nov 2026 12:00:30 -0000",
    ],
)
def test_a_retry_after_date_without_a_zone_is_read_as_gmt(header):
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

    assert retry_after_seconds(_answer(429, header), now=now) == 30.0


def test_a_retry_after_date_is_measured_from_the_clock_when_no_time_is_given():
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)
    in_an_hour = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)

    assert retry_after_seconds(_answer(429, past)) == 0.0
    assert 3000 < (retry_after_seconds(_answer(429, in_an_hour)) or 0) <= 3600


def test_the_retry_settings_are_taken_from_the_config():
    config = {"max_retries": 3, "retry_base_delay": 0.25}

    assert retry_policy_from_config(config) == RetryPolicy(max_tries=3, base_delay=0.25)
