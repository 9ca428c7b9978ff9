"""In-process checks of what target.py and sdk_seams.py promise: STATE, signals, start-up.

mutmut credits a test only with the calls it makes in its own process (docs/mutation.md); the
dry run's STATE, a signal's stop, the segment check and the unknown-stream error were checked
only through `target-recotap` processes. These run the target in this process and check what a
user sees: the STATE lines on stdout, the exit status, the exact messages, what reached the API.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result
from singer_sdk.exceptions import ConfigValidationError

from target_recotap.target import StoppedBySignalError, TargetRecotap, UnsupportedStreamError
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
    first = [*harness.stream("accounts", [*_accounts(3), {}]), harness.state(_STATE)]
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
    assert [e for e in errors if name in e] == [
        f"Received {name}: stopping. No more input is read and no STATE is emitted; waiting "
        "for the 0 write request(s) in flight to finish (a second signal stops at once).",
        f"Stopped by {name} before the end of the input. Records read after the last STATE "
        "this target emitted may not be in Recotap: the next run, starting from that STATE, "
        f"sends them again. Exiting with status {128 + signum}.",
    ]
    assert _verdict(target_logs) == [("WARNING", "1 record(s) were refused or failed so far.")]
    # A second signal ends the process at once: the default handlers are back.
    assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _usable_segments(sandbox) -> list[dict]:
    return [
        s
        for s in sandbox.admin.dump()["segments"]
        if s["type"] == "static" and s["status"] in ("active", "draft")
    ]


def test_an_unusable_segment_is_refused_at_start_up_naming_the_usable_ones(harness, sandbox):
    unknown = "000000000000000000000000"

    with pytest.raises(ConfigValidationError) as raised:
        harness.run(harness.stream("accounts", _accounts(1)), segment_id=unknown)

    message = str(raised.value)
    assert message.startswith(
        f"segment_id '{unknown}' cannot receive accounts: it is not one of the static segments "
        "with status active or draft that GET /segments lists (it may not exist, be dynamic, "
        "or be archived). Usable segments: "
    )
    usable = message.split("Usable segments: ", 1)[1].split(", ")
    assert sorted(usable) == sorted(
        f"{s['segmentId']} ({s['name']})" for s in _usable_segments(sandbox)
    )
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


def test_with_no_usable_segment_left_the_error_says_none(harness, sandbox):
    for segment in _usable_segments(sandbox):
        sandbox.admin.set_segment_status(segment["segmentId"], "archived")

    with pytest.raises(ConfigValidationError, match=r"Usable segments: none$"):
        harness.run(harness.stream("accounts", _accounts(1)), segment_id="0" * 24)


def test_a_usable_segment_is_named_in_the_log(harness, sandbox, target_logs):
    segment = _usable_segments(sandbox)[0]

    result = harness.run(harness.stream("accounts", _accounts(1)), segment_id=segment["segmentId"])

    assert result.exit_code == 0
    assert (
        f"Accounts will be added to segment {segment['segmentId']} "
        f"({segment['name']}, {segment['status']})"
    ) in target_logs.messages


def test_an_unknown_stream_is_refused_with_the_supported_ones_and_the_fix(harness, sandbox):
    with pytest.raises(UnsupportedStreamError) as raised:
        harness.run(harness.stream("users", [{"id": 1}]))

    assert str(raised.value) == (
        "target-recotap has no destination for stream 'users'. Supported streams: accounts, "
        "deals, sales_activities, custom_fields, external_id_mappings, deal_stages. To load it "
        "as one of these, rename it with a stream map, e.g. in meltano.yml: stream_maps: "
        '{"users": {"__alias__": "accounts"}}'
    )


def _two_refused_two_created(harness) -> list[dict]:
    return harness.stream("accounts", [{"domain": "st-bad1.example.org"}, *_accounts(2), {}])


def _verdict(target_logs) -> list[tuple[str, str]]:
    """The run's closing word on failed records: (level, message)."""
    return [
        (r.levelname, r.getMessage())
        for r in target_logs.records
        if "record(s) were refused or failed" in r.getMessage()
    ]


def test_more_failures_than_allowed_exit_1_after_delivering_the_rest(harness, target_logs):
    result = harness.run(_two_refused_two_created(harness), max_failed_records=1)

    assert result.exit_code == 1
    assert result.counts("accounts") == {"created": 2, "refused": 2}
    assert "Summary accounts: 2 created, 2 refused (1 write requests)" in target_logs.messages
    assert _verdict(target_logs) == [
        (
            "ERROR",
            "2 record(s) were refused or failed, more than max_failed_records=1; they are listed "
            f"in {harness.failed_path}. Everything else was delivered. Exiting with status 1.",
        )
    ]


@pytest.mark.parametrize("limit", [2, 3])
def test_failures_up_to_the_limit_exit_0_with_a_warning(harness, target_logs, limit):
    result = harness.run(
        _two_refused_two_created(harness), max_failed_records=limit, failed_records_path=None
    )

    assert result.exit_code == 0
    assert _verdict(target_logs) == [
        (
            "WARNING",
            f"2 record(s) were refused or failed (allowed: max_failed_records={limit}); set "
            "failed_records_path to keep them.",
        )
    ]


def test_by_default_one_failure_is_one_too_many(harness, target_logs):
    result = harness.run(harness.stream("accounts", [{}, *_accounts(1)]))

    assert result.exit_code == 1
    assert [level for level, _ in _verdict(target_logs)] == ["ERROR"]


def test_a_run_without_failures_exits_0_and_says_nothing_about_them(harness, target_logs):
    result = harness.run(harness.stream("accounts", _accounts(2)))

    assert result.exit_code == 0
    assert _verdict(target_logs) == []
    assert "Summary accounts: 2 created (1 write requests)" in target_logs.messages


@pytest.fixture
def command_in_this_process() -> Iterator[Callable[..., Result]]:
    """Run the `target-recotap` command's click entry point in this process (CliRunner).

    What the command changes in its process is given back: the garbage collector's tuning,
    the exception hook and warnings capture the SDK sets, the signal handlers.
    """
    saved_gc, saved_hook = gc.get_threshold(), sys.excepthook
    saved_signals = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def run(config: dict, messages: list[dict], tmp_path, *extra: str) -> Result:
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "input.jsonl").write_text(as_input(messages))
        arguments = ["--config", str(tmp_path / "config.json")]
        arguments += ["--input", str(tmp_path / "input.jsonl"), *extra]
        return CliRunner().invoke(TargetRecotap.get_singer_command(), arguments)

    yield run
    TargetRecotap.tune_gc = False
    gc.unfreeze()
    gc.set_threshold(*saved_gc)
    sys.excepthook = saved_hook
    logging.captureWarnings(capture=False)
    for signum, handler in saved_signals.items():
        signal.signal(signum, handler)


def test_the_command_exits_1_when_too_many_records_failed(
    harness, command_in_this_process, tmp_path
):
    messages = [*_two_refused_two_created(harness), harness.state(_STATE)]

    result = command_in_this_process(harness.config(max_failed_records=1), messages, tmp_path)

    assert result.exit_code == 1
    assert [json.loads(line) for line in result.stdout.splitlines()] == [_STATE]


def test_the_command_exits_0_within_the_limit(harness, command_in_this_process, tmp_path):
    messages = [*_two_refused_two_created(harness), harness.state(_STATE)]

    result = command_in_this_process(harness.config(max_failed_records=2), messages, tmp_path)

    assert result.exit_code == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [_STATE]


def test_the_command_exits_1_without_a_traceback_on_a_full_disk(
    harness, command_in_this_process, tmp_path, full_disk
):
    messages = [*_two_refused_two_created(harness), harness.state(_STATE)]
    config = harness.config(failed_records_path=str(full_disk))

    result = command_in_this_process(config, messages, tmp_path)

    assert result.exit_code == 1
    assert type(result.exception) is SystemExit  # not the OSError: logged where it happened
    assert result.stdout == ""  # no STATE


def test_about_lists_the_targets_settings_without_the_sql_only_ones(
    harness, command_in_this_process, tmp_path
):
    result = command_in_this_process(harness.config(), [], tmp_path, "--about", "--format", "json")

    assert result.exit_code == 0
    settings = json.loads(result.stdout)["settings"]["properties"]
    assert {"max_failed_records", "max_in_flight_batches", "dry_run"} <= settings.keys()
    assert "load_method" not in settings  # offered to every target, acted on only by SQL ones
    assert "add_record_metadata" not in settings


def test_the_command_names_an_unusable_segment_and_exits_1(
    harness, sandbox, command_in_this_process, tmp_path, target_logs
):
    config = harness.config(segment_id="0" * 24)

    result = command_in_this_process(config, harness.stream("accounts", _accounts(1)), tmp_path)

    assert result.exit_code == 1
    errors = [r.getMessage() for r in target_logs.records if r.levelno == logging.ERROR]
    assert any(e.startswith(f"segment_id '{'0' * 24}' cannot receive accounts") for e in errors)
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


def test_the_command_names_an_unwritable_failed_records_path_and_exits_1(
    harness, sandbox, command_in_this_process, tmp_path, target_logs
):
    config = harness.config(failed_records_path=str(tmp_path))  # a directory

    result = command_in_this_process(config, harness.stream("accounts", _accounts(1)), tmp_path)

    assert result.exit_code == 1
    errors = [r.getMessage() for r in target_logs.records if r.levelno == logging.ERROR]
    assert f"failed_records_path {str(tmp_path)!r} cannot be written: Is a directory" in errors
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]
