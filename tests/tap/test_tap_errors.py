"""Failures: retried when transient, clear and key-free when not, refused settings up front."""

from __future__ import annotations

import logging
import time

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_helpers import DISABLED_KEY, captured_stdout, config_for, new_tap, run_tap

from recotap_client.errors import RecotapAPIError, RecotapAuthError, RecotapUnavailableError
from tap_recotap.tap import TapRecotap


def _injected(sandbox) -> int:
    return sum(sandbox.admin.stats()["faults_injected"].values())


def test_transient_failures_are_retried_and_the_sync_completes(sandbox, tap_config):
    # Never more than two failures in a row: each request succeeds by its third attempt.
    script = ["503", "ok", "429", "drop:before", "ok", "500:after", "502", "ok", "drop:after"]
    sandbox.admin.set_faults(retry_after=0, script=script)

    run = run_tap({**tap_config, "max_retries": 3})

    assert len(run.ids()) == 250
    assert run.ids("segments", "segmentId")
    assert _injected(sandbox) == 6


def test_retry_after_from_the_server_is_honoured(sandbox, tap_config):
    sandbox.admin.set_faults(retry_after=1, script=["ok", "429"])
    started = time.monotonic()

    run = run_tap(tap_config, only="accounts")

    assert len(run.ids()) == 250
    # retry_base_delay is 0.01 s: only the server's Retry-After explains a 1 s wait.
    assert time.monotonic() - started >= 1.0


def test_a_response_slower_than_the_timeout_is_retried(sandbox, tap_config):
    sandbox.admin.set_faults(slow_ms=3000, script=["ok", "slow"])

    run = run_tap({**tap_config, "request_timeout": 0.3}, only="accounts")

    assert len(run.ids()) == 250
    assert sandbox.admin.stats()["faults_injected"]["slow"] == 1


def test_exhausted_retries_fail_with_a_clear_message(sandbox, tap_config, caplog):
    sandbox.admin.set_faults(retry_after=0, script=["ok", "503", "503", "503"])

    with captured_stdout(), pytest.raises(RecotapUnavailableError) as failure:
        new_tap({**tap_config, "max_retries": 3}, only="accounts").sync_all()

    message = str(failure.value)
    assert "after 3 attempts" in message
    assert "503" in message
    assert "GET /api/v1/accounts" in message


def _assert_names_both_causes(message: str) -> None:
    assert "key is wrong" in message
    assert "API access is not enabled for this workspace" in message


@pytest.mark.parametrize("where", ["discovery", "sync"])
def test_a_wrong_key_fails_at_once_naming_both_causes_without_the_key(
    sandbox, tap_config, caplog, where
):
    wrong_key = "wrong-key-5b1e0c"
    config = {**tap_config, "api_key": wrong_key}
    catalog = TapRecotap(config=tap_config).catalog_dict if where == "sync" else None
    caplog.set_level(logging.DEBUG)

    with captured_stdout() as output, pytest.raises(RecotapAuthError) as failure:
        TapRecotap(config=config, catalog=catalog).sync_all()

    _assert_names_both_causes(str(failure.value))
    assert "Invalid API key" in str(failure.value)
    assert sandbox.admin.stats()["statuses"].get("401") == 1  # no retry of a 401
    for text in (str(failure.value), caplog.text, output.getvalue()):
        assert wrong_key not in text


def test_a_workspace_without_api_access_gets_the_same_guidance(exclusive_sandbox_process):
    config = config_for(exclusive_sandbox_process, api_key=DISABLED_KEY)

    with pytest.raises(RecotapAuthError) as failure:
        run_tap(config)

    _assert_names_both_causes(str(failure.value))
    assert DISABLED_KEY not in str(failure.value)


def test_a_refused_request_fails_with_the_apis_validation_details(sandbox, tap_config):
    # Config validation refuses page_size > 500; skip it to see what the API itself says.
    tap = TapRecotap(config={**tap_config, "page_size": 501}, validate_config=False)
    for name, stream in tap.streams.items():
        stream.selected = name == "accounts"

    with captured_stdout(), pytest.raises(RecotapAPIError) as failure:
        tap.sync_all()

    assert failure.value.status_code == 400
    assert "limit" in str(failure.value)
    assert sandbox.admin.stats()["statuses"].get("400") == 1  # not retried


@pytest.mark.parametrize(
    "api_url", ["http://eapi.recotap.com/api/v1", "http://10.0.0.8:8787/api/v1", "ftp://x/api"]
)
def test_api_url_must_be_https_unless_loopback(api_url):
    with pytest.raises(ConfigValidationError) as failure:
        TapRecotap(config={"api_key": "k", "api_url": api_url})

    assert "https" in " ".join(failure.value.errors) or "http(s)" in " ".join(failure.value.errors)


def test_plain_http_to_a_loopback_sandbox_is_accepted(tap_config):
    assert TapRecotap(config=tap_config).config["api_url"].startswith("http://127.0.0.1:")


def test_page_size_above_the_api_maximum_is_refused_with_the_limit_named():
    with pytest.raises(ConfigValidationError) as failure:
        TapRecotap(config={"api_key": "k", "page_size": 600})

    assert failure.value.errors == ["600 is greater than the maximum of 500 in config['page_size']"]
