"""Issue 14 items 7 and 8: retry waits the server cannot shrink, and failures that say what
happened in a few lines.

- A `Retry-After` date already past used to turn the backoff into immediate retries; now it
  only ever lengthens the computed wait, and a demand above the cap is logged as cut.
- A connection that cannot be made names host:port and the reason, in a few lines without a
  traceback; rate limits are blamed only when the server answered 429.
"""

from __future__ import annotations

import itertools
import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hostile_server import Reply
from plugin_cli import accounts_catalog, base_config, run_plugin

from recotap_client.errors import RecotapUnavailableError
from recotap_client.retry import RetryPolicy
from recotap_client.session import RecotapSession

A_MINUTE_AGO = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)
BASE_DELAY = 0.2  # first wait 0.1-0.2 s, second 0.2-0.4 s (equal jitter)


def _gaps(requests) -> list[float]:
    return [b.received_at - a.received_at for a, b in itertools.pairwise(requests)]


def _rate_limited(retry_after: str) -> Reply:
    return Reply.error(429, "Too Many Requests", headers={"Retry-After": retry_after})


@pytest.mark.parametrize("mode", ["sync", "discover"])
def test_a_retry_after_date_in_the_past_does_not_cut_the_backoff(hostile, tmp_path, mode):
    hostile.always("GET", "/accounts", _rate_limited(A_MINUTE_AGO))
    hostile.always("GET", "/accounts/custom-fields", _rate_limited(A_MINUTE_AGO))
    config = base_config(hostile, max_retries=3, retry_base_delay=BASE_DELAY)

    run = run_plugin(
        "tap-recotap",
        config,
        *(["--discover"] if mode == "discover" else []),
        tmp_path=tmp_path,
        catalog=accounts_catalog() if mode == "sync" else None,
    )

    assert run.returncode != 0
    assert len(hostile.requests) == 3
    gaps = _gaps(hostile.requests)  # lower bounds only: waits are sleeps
    assert gaps[1] >= BASE_DELAY
    # Besides the backoff (0.1-0.2 s first), the session (discovery and the streams alike)
    # holds every request for at least the first backoff wait after a 429.
    assert gaps[0] >= BASE_DELAY
    assert "Recotap is rate-limiting this key" in run.last_line


def test_a_retry_after_above_the_cap_is_waited_at_the_cap_and_logged_as_such(hostile, caplog):
    # The cap is 60 s in the plugins; a policy with a smaller one shows the same branch quickly.
    hostile.always("GET", "/segments", _rate_limited("3600"))
    policy = RetryPolicy(max_tries=2, base_delay=0.01, max_delay=0.05)
    session = RecotapSession(hostile.api_url, "k", retry=policy, logger=logging.getLogger("t"))

    with caplog.at_level(logging.WARNING), pytest.raises(RecotapUnavailableError) as failure:
        session.get("/segments")

    retry = next(r.getMessage() for r in caplog.records if "retrying in" in r.getMessage())
    assert "retrying in 0.05 s (Recotap asked for 3600 s with Retry-After; waits are capped" in (
        retry
    )
    assert "rate-limiting" in str(failure.value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize("mode", ["sync", "discover"])
def test_nothing_listening_is_named_in_a_few_lines(hostile, tmp_path, mode):
    port = _free_port()
    config = base_config(hostile, api_url=f"http://127.0.0.1:{port}/api/v1", max_retries=3)

    run = run_plugin(
        "tap-recotap",
        config,
        *(["--discover"] if mode == "discover" else []),
        tmp_path=tmp_path,
        catalog=accounts_catalog() if mode == "sync" else None,
    )

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert len(run.stderr_lines) <= 15  # start-up, 2 retries, the error
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in run.last_line
    assert "still failing after 3 attempts" in run.last_line
    assert "Check api_url" in run.last_line
    assert "rate-limit" not in run.stderr
    assert "rate limit" not in run.stderr


def test_a_host_that_does_not_exist_is_named_with_its_port(hostile, tmp_path):
    config = base_config(hostile, api_url="https://recotap-api.invalid/api/v1")

    run = run_plugin("tap-recotap", config, "--discover", tmp_path=tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "cannot connect to recotap-api.invalid:443: " in run.last_line
    assert "rate-limit" not in run.stderr


def test_server_errors_are_not_blamed_on_rate_limits(hostile, tmp_path):
    hostile.always("GET", "/accounts", Reply.error(503, "Service Unavailable"))

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    assert run.returncode != 0
    assert run.last_line.endswith(
        "Recotap still failing after 2 attempts: Recotap answered 503 to GET /api/v1/accounts. "
        "The API may be down or overloaded; try again later."
    )


def test_one_429_among_the_attempts_is_enough_to_mention_rate_limits(hostile, tmp_path):
    hostile.sequence(
        "GET", "/accounts", [_rate_limited("0"), Reply.error(503, "Service Unavailable")]
    )

    run = run_plugin(
        "tap-recotap", base_config(hostile), tmp_path=tmp_path, catalog=accounts_catalog()
    )

    assert run.returncode != 0
    assert "answered 503" in run.last_line
    assert "Recotap is rate-limiting this key" in run.last_line


def test_the_connection_test_reports_a_refused_connection_in_one_line(hostile, tmp_path):
    port = _free_port()
    config = base_config(hostile, api_url=f"http://127.0.0.1:{port}/api/v1")

    run = run_plugin("tap-recotap", config, "--test", tmp_path=tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in run.last_line
