"""In-process checks of the STATE the target emits (sdk_seams.py, target.py).

mutmut credits a test only with the calls it makes in its own process (docs/mutation.md); the
dry-run STATE promise was checked only through a `target-recotap` process. These run the target
through the in-process harness and check what a user sees: the STATE lines on stdout, the log,
what reached the API.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
from collections.abc import Iterator

import pytest

from target_recotap.target import StoppedBySignalError, TargetRecotap
from tests.target.conftest import as_input

_STATE = {"bookmarks": {"accounts": {"replication_key_value": "2"}}}


def _accounts(count: int) -> list[dict]:
    return [{"domain": f"st{i}.example.org", "name": f"St {i}"} for i in range(count)]


def test_a_dry_run_emits_no_state_and_says_why(harness, sandbox, target_logs):
    messages = [*harness.stream("accounts", _accounts(2)), harness.state(_STATE)]

    result = harness.run(messages, dry_run=True)

    assert result.states == []  # nothing written: the tap's state must not move on
    assert "Dry run: not emitting STATE (nothing was written)" in target_logs.messages
    assert result.counts("accounts") == {"would_send": 2}
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


def test_a_real_run_passes_the_taps_state_on_unchanged(harness, sandbox, target_logs):
    messages = [*harness.stream("accounts", _accounts(2)), harness.state(_STATE)]

    result = harness.run(messages)

    assert result.states == [_STATE]
    assert "Dry run" not in target_logs.text
    assert result.counts("accounts") == {"created": 2}


class _SignalAfter(io.StringIO):
    """Singer input that delivers `signum` to this process once `lines` lines were read."""

    def __init__(self, text: str, lines: int, signum: int) -> None:
        super().__init__(text)
        self.left, self.signum = lines, signum

    def __next__(self) -> str:
        if self.left == 0:
            signal.raise_signal(self.signum)  # the target's handler runs here, in this thread
        self.left -= 1
        return super().__next__()


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """Give the test process its own SIGINT/SIGTERM handlers back after the target's."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("signal_handlers")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_run_without_state_and_says_how(harness, target_logs, signum):
    # What `invoke` does for the command line, in this process (mutmut credits it).
    first = [*harness.stream("accounts", _accounts(3)), harness.state(_STATE)]
    later = [{"type": "RECORD", "stream": "accounts", "record": r} for r in _accounts(6)[3:]]
    target = TargetRecotap(config=harness.config())
    stdout = io.StringIO()

    with contextlib.redirect_stdout(stdout), pytest.raises(StoppedBySignalError) as raised:
        target.listen(_SignalAfter(as_input(first + later), len(first) + 1, signum))
    target.finish_after_signal(raised.value)

    name = signal.Signals(signum).name
    assert raised.value.code == 128 + signum
    assert stdout.getvalue() == ""  # no STATE: records before it may not be in Recotap
    errors = [r.getMessage() for r in target_logs.records if r.levelno == logging.ERROR]
    assert errors == [
        f"Received {name}: stopping. No more input is read and no STATE is emitted; waiting "
        "for the 0 write request(s) in flight to finish (a second signal stops at once).",
        f"Stopped by {name} before the end of the input. Records read after the last STATE "
        "this target emitted may not be in Recotap: the next run, starting from that STATE, "
        f"sends them again. Exiting with status {128 + signum}.",
    ]
    # A second signal ends the process at once: the default handlers are back.
    assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
