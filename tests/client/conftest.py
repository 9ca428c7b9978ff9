"""Fixtures of the in-process client tests: a hostile server, and a client session on it.

These tests call `recotap_client` in the test process (over real HTTP on loopback), so that
mutation testing, which only credits in-process calls, sees what the process-based hostile
suite (tests/hostile/) already checks through the plugins' command lines.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recotap_client.retry import RetryPolicy
from recotap_client.session import RecotapSession
from tests.hostile.hostile_server import HostileServer

API_KEY = "client-test-key-0123456789"


@pytest.fixture(scope="session")
def _one_hostile_server() -> Iterator[HostileServer]:
    # One server for all these tests: stopping one takes half a second (its poll interval).
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile(_one_hostile_server: HostileServer) -> HostileServer:
    """A hostile server standing in for the Recotap API, with no route and no request yet."""
    server = _one_hostile_server
    with server._lock:  # a helper of the tests: no public reset, and no other user of it
        server._routes.clear()
        server.requests.clear()
    return server


@pytest.fixture
def session(hostile: HostileServer) -> Iterator[RecotapSession]:
    """A session on the hostile server that does not retry (one answer, one outcome)."""
    client = RecotapSession(hostile.api_url, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5)
    yield client
    client.close()
