"""Shared fixtures: one sandbox process per test session (per xdist worker), reset per test.

Also the suite-wide secret guard: every test fails whose output, captured log or in-process log
record (any level: DEBUG is on for each test's duration) shows one of the guarded API keys.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator

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


# --- The secret guard ---------------------------------------------------------------------------
# Keys of every sandbox the suite starts. A test using another key registers it: the
# `@pytest.mark.secret("key")` marker, or the `guard_secret("key")` fixture at run time.
GUARDED_SECRETS: frozenset[str] = frozenset(
    {
        SANDBOX_API_KEY,
        "test-key-exclusive",  # tests/tap/conftest.py
        "source-key-91d2",  # tests/reliability/test_reliability_crashes.py
        "volume-key-5e1b",  # tests/reliability/test_reliability_volume.py
        "other-key-2b7e",  # tests/target/test_target_round_trip.py
        "standard-suite-key",  # tests/tap/test_tap_standard_suite.py
        "meltano-e2e-key-51d0",  # tests/meltano/test_meltano_e2e.py
    }
)
_MIN_SECRET_LENGTH = 8  # a shorter value would match ordinary text by chance
_guard_key = pytest.StashKey["_SecretWatch"]()


def secret_forms(secret: str) -> tuple[str, ...]:
    """The texts that reveal `secret`: itself, its hex, and its base64 at any offset.

    Its repr, bytes repr and URL encoding (the keys are [A-Za-z0-9-]) all contain it as is.
    Base64 of a longer text (a header dump) holding the key encodes it one of three ways,
    after how many bytes precede it: each form keeps the characters made of key bits only.
    """
    raw = secret.encode()
    forms = [secret, raw.hex()]
    for offset in range(3):
        first = -(-8 * offset // 6)  # the first character with no bit of the bytes before
        last = 8 * (offset + len(raw)) // 6  # past the last character with no bit after
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.append(encode(b"\0" * offset + raw).decode()[first:last])
    return tuple(dict.fromkeys(forms))


class _SecretWatch(logging.Handler):
    """A root handler at DEBUG: notes every log record of the test that reveals a guarded key."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__(logging.DEBUG)
        self.forms: dict[str, str] = {}
        self.leaks: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < _MIN_SECRET_LENGTH:
            raise ValueError(f"a guarded secret needs {_MIN_SECRET_LENGTH}+ characters")
        self.forms.update(dict.fromkeys(secret_forms(secret), secret))

    def revealed(self, text: str) -> list[str]:
        """The guarded forms found in `text` (never the secret itself: reports show these)."""
        return [form_name(form, secret) for form, secret in self.forms.items() if form in text]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
        except Exception:  # noqa: BLE001 (a broken record must not break the test run)
            text = str(record.msg)
        found = self.revealed(text)
        if found:
            self.leaks.append(f"{record.levelname} log record of {record.name!r} ({found[0]})")


def form_name(form: str, secret: str) -> str:
    """Which form of which key, without printing the key itself."""
    kind = "the key" if form == secret else "an encoding of the key"
    return f"{kind} {secret[:3]}…"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "secret(*values): more API keys the secret guard fails this test for"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Turn DEBUG on and watch every log record for the test's whole run, then restore."""
    secrets = set(GUARDED_SECRETS)
    for marker in item.iter_markers("secret"):
        secrets.update(marker.args)
    watch = _SecretWatch(secrets)
    item.stash[_guard_key] = watch
    root = logging.getLogger()
    level = root.level
    # A failure report shows the log records it showed before DEBUG was turned on, no more.
    quiet = _AsBefore(level)
    report = getattr(item.config.pluginmanager.get_plugin("logging-plugin"), "report_handler", None)
    root.addHandler(watch)
    root.setLevel(logging.DEBUG)  # records below a logger's level are never even made
    if report is not None:
        report.addFilter(quiet)
    try:
        return (yield)
    finally:
        root.setLevel(level)
        root.removeHandler(watch)
        if report is not None:
            report.removeFilter(quiet)


class _AsBefore(logging.Filter):
    """Passes a record only if its logger would have made it with the root at `root_level`."""

    def __init__(self, root_level: int) -> None:
        super().__init__()
        self.root_level = root_level

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger.parent is not None:
            if logger.level:
                return record.levelno >= logger.level
            logger = logger.parent
        return record.levelno >= self.root_level


@pytest.fixture
def guard_secret(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Register one more key for the secret guard of this test (e.g. one a test generates)."""
    return request.node.stash[_guard_key].add


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """Fail a test whose captured output or log records show a guarded key, in any form."""
    report: pytest.TestReport = yield
    watch = item.stash.get(_guard_key, None)
    if watch is None:
        return report
    # Sections accumulate over setup, call and teardown: look only at this phase's own.
    leaked = [
        f"{title} ({found[0]})"
        for title, text in report.sections
        if title.endswith(f" {report.when}") and (found := watch.revealed(text))
    ]
    leaked += watch.leaks
    watch.leaks = []
    if leaked and report.passed:
        report.outcome = "failed"
        report.longrepr = f"a guarded API key appeared in: {', '.join(leaked)}"
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
