"""Fixtures for the sandbox's own tests: an API client, and a second sandbox with flags flipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from recotap_sandbox.control import SandboxProcess

FLAGGED_KEY = "flagged-key"
DISABLED_KEY = "disabled-key"


class Api:
    """A keep-alive session against one sandbox's /api/v1."""

    def __init__(self, api_url: str, api_key: str) -> None:
        self.url = api_url
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = api_key

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=10)

    def send(self, method: str, path: str, body: Any) -> requests.Response:
        return self.session.request(method, self.url + path, json=body, timeout=10)

    def data(self, path: str, **params: Any) -> Any:
        """GET and return the envelope's ``data``, asserting a 200."""
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def write(self, method: str, path: str, body: Any) -> Any:
        """Send a body and return the envelope's ``data``, asserting a 200."""
        response = self.send(method, path, body)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[Api]:
    """A client of the freshly reset session sandbox."""
    client = Api(sandbox.api_url, sandbox.api_key)
    yield client
    client.session.close()


@pytest.fixture(scope="session")
def flagged_process() -> Iterator[SandboxProcess]:
    """A sandbox started with --last-sync-exclusive --null-last-cursor and a disabled key."""
    args = [
        "--seed-accounts",
        "120",
        "--seed",
        "3",
        "--last-sync-exclusive",
        "--null-last-cursor",
        "--disabled-key",
        DISABLED_KEY,
    ]
    with SandboxProcess(api_key=FLAGGED_KEY, args=args) as process:
        yield process


@pytest.fixture
def flagged_api(flagged_process: SandboxProcess) -> Iterator[Api]:
    """A client of the flagged sandbox, after a reset."""
    flagged_process.admin.reset()
    flagged_process.admin.clear_faults()
    client = Api(flagged_process.api_url, flagged_process.api_key)
    yield client
    client.session.close()
