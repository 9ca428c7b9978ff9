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


# --- Reliability suite (tests/reliability, issue 6): secret guard and figures summary ---------
# These hooks live here, not in tests/reliability/conftest.py: under `pytest -n 2` the
# controller process, which writes the terminal summary, only loads this top-level conftest.

_FIGURES_PROPERTY = "reliability"
_figures: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """Fail any test whose captured stdout, stderr or log shows the sandbox API key."""
    report: pytest.TestReport = yield
    # Sections accumulate over setup, call and teardown: look only at this phase's own.
    leaked = [
        title
        for title, text in report.sections
        if title.endswith(f" {report.when}") and SANDBOX_API_KEY in text
    ]
    if leaked and report.passed:
        report.outcome = "failed"
        report.longrepr = f"the sandbox API key appeared in: {', '.join(leaked)}"
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the figures reliability tests attach with `record_property("reliability", ...)`."""
    if report.when == "call":
        _figures.extend(str(v) for k, v in report.user_properties if k == _FIGURES_PROPERTY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reliability figures (faults injected, retries, records checked, wall times)."""
    if _figures:
        terminalreporter.write_sep("=", "reliability figures")
        for line in sorted(_figures):
            terminalreporter.write_line(line)
