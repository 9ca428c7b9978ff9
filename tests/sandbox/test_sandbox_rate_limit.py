"""The rate limiter as a stand-in for limits Recotap does not document (§6): a token bucket per
API key with a burst, changeable mid-run through the admin API, its 429s counted."""

from __future__ import annotations

import time

import requests

from tests.sandbox.conftest import Api


def _statuses(api: Api, count: int) -> list[int]:
    return [api.get("/segments").status_code for _ in range(count)]


def test_a_quiet_key_may_send_its_burst_then_gets_429_with_retry_after(api, sandbox):
    # 0.5 requests a second: nothing refills while the test sends, so the burst is exact.
    sandbox.admin.set_faults(rate_limit_rps=0.5, rate_limit_burst=3, retry_after=2)

    statuses = _statuses(api, 6)

    assert statuses == [200, 200, 200, 429, 429, 429]
    limited = api.get("/segments")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    stats = sandbox.admin.stats()
    assert stats["rate_limited_by_key"] == {sandbox.api_key: 4}
    assert stats["faults_injected"]["429"] == 4
    assert stats["statuses"]["429"] == 4


def test_the_default_burst_is_one_second_of_the_limit(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=4)

    statuses = _statuses(api, 8)

    # Four at once, then the refill (4 a second) lets at most one more through meanwhile.
    assert statuses[:4] == [200] * 4
    assert 3 <= statuses.count(429) <= 4


def test_each_api_key_has_its_own_bucket(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=0.5, rate_limit_burst=2)
    assert _statuses(api, 3) == [200, 200, 429]

    other = Api(sandbox.api_url, "another-workspace-key")
    # Another key's bucket is full: it gets past the limiter (to the key check, a 401).
    assert [other.get("/segments").status_code for _ in range(2)] == [401, 401]
    assert other.get("/segments").status_code == 429
    other.session.close()
    assert sandbox.admin.stats()["rate_limited_by_key"] == {
        sandbox.api_key: 1,
        "another-workspace-key": 1,
    }


def test_the_limit_can_be_lifted_and_lowered_mid_run(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=0.5, rate_limit_burst=1)
    assert _statuses(api, 2) == [200, 429]

    sandbox.admin.set_faults(rate_limit_rps=None)
    assert _statuses(api, 20) == [200] * 20

    # A new limit starts from a full bucket of its own burst.
    sandbox.admin.set_faults(rate_limit_rps=0.5, rate_limit_burst=2)
    assert _statuses(api, 3) == [200, 200, 429]


def test_the_limit_refills_at_its_rate(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=20, rate_limit_burst=1)
    assert _statuses(api, 2)[1] == 429
    time.sleep(0.1)  # two tokens' worth at 20 a second, at most one kept (burst 1)
    assert _statuses(api, 2) == [200, 429]


def test_requests_that_ignore_retry_after_are_counted(api, sandbox):
    sandbox.admin.set_faults(rate_limit_rps=0.5, rate_limit_burst=1, retry_after=1)
    assert _statuses(api, 2) == [200, 429]
    api.get("/segments")  # at once: ignores the Retry-After of the 429 just received
    assert sandbox.admin.stats()["retry_after_ignored_by_key"] == {sandbox.api_key: 1}

    time.sleep(1.05)
    api.get("/segments")  # after it: fine
    assert sandbox.admin.stats()["retry_after_ignored_by_key"] == {sandbox.api_key: 1}


def test_the_busy_time_of_each_route_is_reported(api, sandbox):
    sandbox.admin.set_faults(latency_ms=100)
    api.get("/segments")
    api.get("/segments")

    busy = sandbox.admin.stats()["busy_seconds"]

    # From the first request's arrival to the last answer: both latencies, generously bounded.
    assert 0.2 <= busy["GET /api/v1/segments"] < 5


def test_the_burst_flag_sets_the_burst(tmp_path):
    from recotap_sandbox.control import SandboxProcess

    flags = ["--seed-accounts", "0", "--rate-limit", "0.5", "--rate-limit-burst", "2"]
    with SandboxProcess(api_key="k", args=flags) as sandbox:
        api = Api(sandbox.api_url, "k")
        assert _statuses(api, 3) == [200, 200, 429]
        assert sandbox.admin.faults()["rate_limit_burst"] == 2
        api.session.close()


def test_a_bad_burst_is_refused(sandbox):
    response = requests.put(
        f"{sandbox.base_url}/_sandbox/faults", json={"rate_limit_burst": 0}, timeout=5
    )
    assert response.status_code == 400
    assert "rate_limit_burst" in response.json()["error"]
