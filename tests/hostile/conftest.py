"""Fixtures of the hostile-server suite: two independent loopback servers per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_server import HostileServer


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A hostile server standing in for the Recotap API (configure it as `api_url`)."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """A second origin (another port): what a redirect points to; nothing may reach it."""
    with HostileServer() as server:
        yield server
