"""Fixtures of the tap-recotap suite (the shared `sandbox` fixtures are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tap_helpers import DISABLED_KEY, config_for

from recotap_sandbox.control import SandboxProcess


@pytest.fixture
def tap_config(sandbox: SandboxProcess) -> dict[str, Any]:
    """Config aimed at the per-test sandbox, with fast retries."""
    return config_for(sandbox)


@pytest.fixture(scope="session")
def exclusive_sandbox_process() -> Iterator[SandboxProcess]:
    """A second sandbox: `lastSync` strictly-after, and DISABLED_KEY without API access."""
    args = ["--seed-accounts", "250", "--seed", "7", "--last-sync-exclusive"]
    args += ["--disabled-key", DISABLED_KEY]
    with SandboxProcess(api_key="test-key-exclusive", args=args) as process:
        yield process


@pytest.fixture(params=["inclusive", "exclusive"])
def either_sandbox(request: pytest.FixtureRequest) -> SandboxProcess:
    """The default (inclusive `lastSync`) sandbox, then the exclusive one, freshly reset."""
    if request.param == "inclusive":
        process: SandboxProcess = request.getfixturevalue("sandbox")
        return process
    process = request.getfixturevalue("exclusive_sandbox_process")
    process.admin.reset(seed_accounts=250, seed=7)
    process.admin.clear_faults()
    return process
