"""Shared fixtures: one sandbox process per test session (per xdist worker), reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recotap_sandbox.control import SandboxProcess

SANDBOX_API_KEY = "test-key-7f3c9a"
SANDBOX_SEED_ACCOUNTS = 250
SANDBOX_SEED = 7


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[SandboxProcess]:
    """A running sandbox (api key ``test-key-7f3c9a``, 250 accounts, seed 7), started once."""
    args = ["--seed-accounts", str(SANDBOX_SEED_ACCOUNTS), "--seed", str(SANDBOX_SEED)]
    with SandboxProcess(api_key=SANDBOX_API_KEY, args=args) as process:
        yield process


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess) -> SandboxProcess:
    """The session sandbox with fresh seeded data (250 accounts, seed 7) and no faults."""
    sandbox_process.admin.reset(seed_accounts=SANDBOX_SEED_ACCOUNTS, seed=SANDBOX_SEED)
    sandbox_process.admin.clear_faults()
    return sandbox_process
