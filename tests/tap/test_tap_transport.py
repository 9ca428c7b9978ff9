"""The hook the prefetch thread hands pages over in: run right after a request is sent.

Real requests to the sandbox; "sent" is checked where it shows, in the sandbox's request count.
"""

from __future__ import annotations

import json
import time

import requests

from tap_recotap.transport import TapTransportAdapter, after_request_sent

ROUTE = "GET /api/v1/accounts/custom-fields"


def _session(*, with_hook: bool) -> requests.Session:
    session = requests.Session()
    if with_hook:
        session.mount("http://", TapTransportAdapter())
    return session


def _get(session: requests.Session, sandbox) -> requests.Response:
    return session.get(
        f"{sandbox.api_url}/accounts/custom-fields",
        headers={"X-Api-Key": sandbox.api_key},
        timeout=10,
    )


def _seen_by_sandbox(sandbox) -> int:
    return int(sandbox.admin.stats()["requests"].get(ROUTE, 0))


def test_the_callback_runs_once_the_request_has_reached_the_server(sandbox):
    seen_in_callback: list[int] = []

    def on_sent() -> None:
        # Runs in the requesting thread before it reads the answer: were it run before the
        # request was written, the sandbox could never see the request while this waits.
        deadline = time.monotonic() + 10
        while _seen_by_sandbox(sandbox) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_in_callback.append(_seen_by_sandbox(sandbox))

    with after_request_sent(on_sent):
        response = _get(_session(with_hook=True), sandbox)

    assert response.status_code == 200
    assert seen_in_callback == [1]


def test_the_callback_runs_for_one_request_and_is_forgotten_after_the_block(sandbox):
    session = _session(with_hook=True)
    calls: list[str] = []
    with after_request_sent(lambda: calls.append("sent")):
        assert _get(session, sandbox).ok
        assert _get(session, sandbox).ok
    with after_request_sent(lambda: calls.append("never sent")):
        pass
    assert _get(session, sandbox).ok
    assert calls == ["sent"]


def test_without_the_adapter_the_callback_never_runs(sandbox):
    # As through a proxy: callers must not depend on the callback (fast_stream falls back).
    calls: list[str] = []
    with after_request_sent(lambda: calls.append("sent")):
        assert _get(_session(with_hook=False), sandbox).ok
    assert calls == []


def test_the_pool_kept_per_host_goes_when_the_adapter_is_closed(sandbox):
    adapter = TapTransportAdapter()
    session = requests.Session()
    session.mount("http://", adapter)
    assert _get(session, sandbox).ok
    assert _get(session, sandbox).ok
    assert len(adapter.poolmanager.pools) == 1
    adapter.close()  # as requests' own adapter: the next request gets a new pool
    assert len(adapter.poolmanager.pools) == 0
    assert _get(session, sandbox).ok
    assert len(adapter.poolmanager.pools) == 1


def test_a_streamed_response_is_left_unread(sandbox):
    # The adapter reads a body in one go, but only when the caller does not stream it.
    session = _session(with_hook=True)
    expected = _get(session, sandbox).json()["data"]
    with session.get(
        f"{sandbox.api_url}/accounts/custom-fields",
        headers={"X-Api-Key": sandbox.api_key},
        timeout=10,
        stream=True,
    ) as streamed:
        assert json.loads(streamed.raw.read())["data"] == expected
