"""Fixtures of the in-process client tests: a hostile server, and a client session on it.

These tests call `recotap_client` in the test process (over real HTTP on loopback), so that
mutation testing, which only credits in-process calls, sees what the process-based hostile
suite (tests/hostile/) already checks through the plugins' command lines.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from recotap_client.retry import RetryPolicy
from recotap_client.session import RecotapSession
from tests.hostile.hostile_server import HostileServer

API_KEY = "client-test-key-0123456789"


def _reset(server: HostileServer) -> HostileServer:
    with server._lock:  # a helper of the tests: no public reset, and no other user of it
        server._routes.clear()
        server.requests.clear()
    return server


# One server of each kind for all these tests: stopping one takes half a second (its poll
# interval), longer than most of these tests.
@pytest.fixture(scope="session")
def _hostile_server() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="session")
def _elsewhere_server() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile(_hostile_server: HostileServer) -> HostileServer:
    """A hostile server standing in for the Recotap API, with no route and no request yet."""
    return _reset(_hostile_server)


@pytest.fixture
def elsewhere(_elsewhere_server: HostileServer) -> HostileServer:
    """A second origin: where a redirect points; nothing may reach it."""
    return _reset(_elsewhere_server)


@pytest.fixture
def session(hostile: HostileServer) -> Iterator[RecotapSession]:
    """A session on the hostile server that does not retry (one answer, one outcome)."""
    client = RecotapSession(hostile.api_url, API_KEY, retry=RetryPolicy(max_tries=1), timeout=5)
    yield client
    client.close()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate (and its key, in the same file) for 127.0.0.1."""
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(pem),
            "-out",
            str(pem),
        ],
        check=True,
        capture_output=True,
    )
    return pem


@pytest.fixture(scope="session")
def _tls_server(certificate) -> Iterator[HostileServer]:
    server = HostileServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    # A test helper: the hostile server speaks plain HTTP; this one answers over TLS.
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    with server:
        yield server


@pytest.fixture
def tls(_tls_server) -> tuple[HostileServer, str]:
    """A hostile server over TLS, and its https api_url."""
    return _reset(_tls_server), _tls_server.api_url.replace("http://", "https://")
