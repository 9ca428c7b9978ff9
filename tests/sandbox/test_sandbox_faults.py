"""Fault injection: latency, 5xx, 429 + Retry-After, drops, slowness, scripts, after-write."""

from __future__ import annotations

import time

import pytest
import requests


def _push_one(api, domain):
    return api.send("POST", "/accounts", {"accounts": [{"domain": domain, "name": domain}]})


def _exists(api, domain):
    return bool(api.data("/accounts", domains=f'["{domain}"]')["data"])


def test_latency_is_added_to_api_requests_only(api, sandbox):
    sandbox.admin.set_faults(latency_ms=150)
    started = time.monotonic()
    api.get("/segments")
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    sandbox.admin.stats()
    assert time.monotonic() - started < 0.15


@pytest.mark.parametrize("latency_ms", [1, 2, 30])
def test_latency_is_never_shorter_than_asked(api, sandbox, latency_ms):
    # Slept to the deadline (asyncio alone would add up to a millisecond), never short of it.
    sandbox.admin.set_faults(latency_ms=latency_ms)
    for _ in range(5):
        started = time.perf_counter()
        api.get("/segments")
        assert time.perf_counter() - started >= latency_ms / 1000


def test_error_rate_answers_5xx_share(api, sandbox):
    sandbox.admin.set_faults(error_rate=0.5, seed=1)
    statuses = [api.get("/segments").status_code for _ in range(60)]
    errors = [s for s in statuses if s >= 500]
    assert 15 <= len(errors) <= 45
    assert set(errors) <= {500, 502, 503}
    injected = sandbox.admin.stats()["faults_injected"]
    assert injected["500"] + injected["502"] + injected["503"] == len(errors)


def test_error_statuses_can_be_restricted(api, sandbox):
    sandbox.admin.set_faults(error_rate=1.0, error_statuses=[502])
    response = api.get("/segments")
    assert response.status_code == 502
    assert response.json()["message"] == "Bad Gateway"


def test_faults_are_reproducible_from_the_fault_seed(api, sandbox):
    sandbox.admin.set_faults(error_rate=0.3, drop_rate=0.0, seed=42)
    first = [api.get("/segments").status_code for _ in range(30)]
    sandbox.admin.set_faults(seed=42)
    assert [api.get("/segments").status_code for _ in range(30)] == first
    sandbox.admin.set_faults(seed=43)
    assert [api.get("/segments").status_code for _ in range(30)] != first


def test_rate_limit_answers_429_with_retry_after(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=5, retry_after=3)
    responses = [api.get("/segments") for _ in range(12)]
    limited = [r for r in responses if r.status_code == 429]
    assert 1 <= len(limited) <= 7
    assert limited[0].headers["Retry-After"] == "3"
    assert limited[0].json()["message"] == "Too Many Requests"
    assert sandbox.admin.stats()["faults_injected"]["429"] == len(limited)
    time.sleep(0.25)
    assert api.get("/segments").status_code == 200


def test_drop_closes_the_connection_without_a_response(api, sandbox):
    sandbox.admin.set_faults(script=["drop:before"])
    with pytest.raises(requests.ConnectionError):
        _push_one(api, "dropped.com")
    assert not _exists(api, "dropped.com")
    assert sandbox.admin.stats()["faults_injected"]["drop"] == 1


def test_drop_after_write_stores_the_data(api, sandbox):
    sandbox.admin.set_faults(script=["drop:after"])
    with pytest.raises(requests.ConnectionError):
        _push_one(api, "written.com")
    assert _exists(api, "written.com")
    assert sandbox.admin.stats()["batch_sizes"]["POST /api/v1/accounts"] == [1]


def test_5xx_after_write_stores_the_data_and_retry_fails_as_duplicate(api, sandbox):
    sandbox.admin.set_faults(script=["503:after"])
    assert _push_one(api, "twice.com").status_code == 503
    retry = _push_one(api, "twice.com").json()["data"]
    assert retry["results"][0]["status"] == "failed"


def test_5xx_before_write_stores_nothing(api, sandbox):
    sandbox.admin.set_faults(script=["500:before"])
    assert _push_one(api, "never.com").status_code == 500
    assert not _exists(api, "never.com")
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["batch_sizes"]


@pytest.mark.parametrize(("share", "written"), [(0.0, False), (1.0, True)])
def test_after_write_share_decides_for_unqualified_faults(api, sandbox, share, written):
    sandbox.admin.set_faults(after_write_share=share, script=[502])
    assert _push_one(api, "share.com").status_code == 502
    assert _exists(api, "share.com") is written


def test_drop_rate_drops_a_share_of_requests(api, sandbox):
    sandbox.admin.set_faults(drop_rate=0.5, seed=3)
    outcomes = []
    for _ in range(30):
        try:
            outcomes.append(api.get("/segments").status_code)
        except requests.ConnectionError:
            outcomes.append("drop")
    assert 5 <= outcomes.count("drop") <= 25
    assert sandbox.admin.stats()["faults_injected"]["drop"] == outcomes.count("drop")


def test_slow_response_trips_a_client_timeout_but_still_answers(api, sandbox):
    sandbox.admin.set_faults(slow_rate=1.0, slow_ms=400)
    with pytest.raises(requests.Timeout):
        api.session.get(f"{api.url}/segments", timeout=0.1)
    started = time.monotonic()
    assert api.get("/segments").status_code == 200
    assert time.monotonic() - started >= 0.4
    assert sandbox.admin.stats()["faults_injected"]["slow"] == 2


def test_script_applies_in_order_then_stops(api, sandbox):
    sandbox.admin.set_faults(script=[503, 429, "ok", "slow", "drop:before"], slow_ms=50)
    assert api.get("/segments").status_code == 503
    limited = api.get("/segments")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert api.get("/segments").status_code == 200
    assert api.get("/segments").status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.get("/segments")
    assert [api.get("/segments").status_code for _ in range(3)] == [200] * 3
    assert sandbox.admin.faults()["script"] == []


def test_faults_never_touch_the_admin_api(sandbox):
    sandbox.admin.set_faults(error_rate=1.0, drop_rate=1.0)
    assert sandbox.admin.stats()["requests"] == {}
    assert len(sandbox.admin.dump()["accounts"]) == 250


def test_fault_settings_round_trip_and_clear(sandbox):
    admin = sandbox.admin
    settings = admin.set_faults(latency_ms=5, rate_limit_rps=2.5)
    assert settings["latency_ms"] == 5
    assert settings["rate_limit_rps"] == 2.5
    assert settings["error_rate"] == 0.0
    assert admin.faults() == settings
    cleared = admin.clear_faults()
    assert cleared == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "error_statuses": [500, 502, 503],
        "rate_limit_rps": None,
        "rate_limit_burst": None,
        "retry_after": 1,
        "drop_rate": 0.0,
        "slow_rate": 0.0,
        "slow_ms": 5000,
        "after_write_share": 0.5,
        "seed": 0,
        "script": [],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 2},
        {"script": ["boom"]},
        {"nope": 1},
        {"error_statuses": [404]},
        {"rate_limit_burst": 0.5},
    ],
)
def test_bad_fault_settings_are_400(sandbox, body):
    response = requests.put(f"{sandbox.base_url}/_sandbox/faults", json=body, timeout=5)
    assert response.status_code == 400


def test_reset_clears_the_script_but_keeps_settings(sandbox):
    sandbox.admin.set_faults(latency_ms=1, script=[503])
    sandbox.admin.reset()
    faults = sandbox.admin.faults()
    assert faults["script"] == []
    assert faults["latency_ms"] == 1
