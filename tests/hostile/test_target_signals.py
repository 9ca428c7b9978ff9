"""SIGTERM / SIGINT mid-run: no STATE past an unconfirmed record, and a non-zero exit.

Orchestrators stop a job that runs too long with SIGTERM; Meltano stores every STATE the target
emitted. So after a signal, every record before the last STATE on stdout must be confirmed by
the API, and the run must not look successful. The target runs as its own process, the API is
the hostile server holding requests while the test sends the signal at a chosen moment.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hostile_server import HostileServer
from target_api import AccountsAPI, lines, record, schema, start_target, state, target_config

BATCH = 100  # records per request (the API's cap, the target's default)
MOMENTS = ("during_a_send", "waiting_for_a_send_slot", "between_batches")


def _accounts(count: int) -> list[dict[str, Any]]:
    return [{"domain": f"sig{i}.example.org", "name": f"Signal {i}"} for i in range(count)]


def _messages(accounts: list[dict[str, Any]], first: int = 0) -> list[dict[str, Any]]:
    """RECORDs with a STATE after every 50 (its value: how many records came before it)."""
    messages = [schema("accounts", ["domain", "name"])] if first == 0 else []
    for position, account in enumerate(accounts, start=first + 1):
        messages.append(record("accounts", account))
        if position % 50 == 0:
            messages.append(state({"records_before": position}))
    return messages


def _interrupt(
    hostile: HostileServer, tmp_path: Path, limit: int, moment: str, signum: int
) -> tuple[subprocess.CompletedProcess[str], AccountsAPI, list[dict[str, Any]]]:
    """Feed the target, send `signum` at `moment`, let held requests finish, collect the run."""
    api = AccountsAPI(hostile)
    full_batches = {"during_a_send": limit, "waiting_for_a_send_slot": limit + 1}.get(moment, 2)
    accounts = _accounts(full_batches * BATCH + 30)  # 30 more wait in the sink, never full
    if moment != "between_batches":
        api.hold()
    # Fixed concurrency: `limit` requests held in flight at once (the adaptive pace would start
    # with two and grow only with answers, which held requests never get).
    config = target_config(
        hostile, tmp_path, max_in_flight_batches=limit, adaptive_concurrency=False
    )
    target = start_target(config, tmp_path)
    assert target.stdin is not None
    target.stdin.write(lines(_messages(accounts)))
    target.stdin.flush()  # stdin stays open: the tap is still running
    if moment == "between_batches":
        api.wait_until(lambda: api.answered() == full_batches, "both batches are confirmed")
    else:
        api.wait_until(lambda: api.received() == limit, f"{limit} request(s) are in flight")
    time.sleep(0.3)  # let the reading thread reach its next wait (a slot, or more input)
    target.send_signal(signum)
    api.release()
    try:
        stdout, stderr = target.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        target.kill()
        raise AssertionError("the target hung after the signal") from None
    return subprocess.CompletedProcess([], target.returncode, stdout, stderr), api, accounts


def _assert_no_state_past_unconfirmed(
    run: subprocess.CompletedProcess[str], api: AccountsAPI, accounts: list[dict[str, Any]]
) -> None:
    confirmed = set(api.confirmed)
    for line in run.stdout.splitlines():
        before = json.loads(line)["records_before"]
        missing = [a["domain"] for a in accounts[:before] if a["domain"] not in confirmed]
        assert missing == [], f"STATE {line} emitted, but {len(missing)} earlier not confirmed"


def _created_in_summary(stderr: str) -> int:
    match = re.search(r"Summary accounts: (\d+) created", stderr)
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("limit", [1, 4])
@pytest.mark.parametrize("moment", MOMENTS)
def test_sigterm_mid_run_leaves_no_state_past_an_unconfirmed_record_and_exits_non_zero(
    hostile: HostileServer, tmp_path: Path, moment: str, limit: int, record_property: Any
) -> None:
    run, api, accounts = _interrupt(hostile, tmp_path, limit, moment, signal.SIGTERM)

    assert run.returncode == 128 + signal.SIGTERM
    _assert_no_state_past_unconfirmed(run, api, accounts)
    assert "Stopped by SIGTERM before the end of the input" in run.stderr
    # Requests already in flight were waited for and reported: the summary matches Recotap.
    assert _created_in_summary(run.stderr) == len(api.confirmed) > 0
    assert "Traceback" not in run.stderr
    record_property(
        "reliability",
        f"signal SIGTERM {moment} (max_in_flight_batches={limit}): exit {run.returncode}, "
        f"{len(run.stdout.splitlines())} STATE emitted, {len(api.confirmed)} of "
        f"{len(accounts)} records confirmed, 0 STATE past an unconfirmed record",
    )


def test_sigint_stops_like_sigterm(hostile: HostileServer, tmp_path: Path) -> None:
    run, api, accounts = _interrupt(hostile, tmp_path, 4, "waiting_for_a_send_slot", signal.SIGINT)

    assert run.returncode == 128 + signal.SIGINT
    _assert_no_state_past_unconfirmed(run, api, accounts)
    assert "Stopped by SIGINT" in run.stderr
    assert _created_in_summary(run.stderr) == len(api.confirmed) == 4 * BATCH


# The SDK drains every sink and emits the latest STATE every 5 minutes of a long run; with 0
# it does so after every record, so a short run emits STATE mid-run, as a long one would.
_EVERY_RECORD_DRAINS = (
    "import sys; from target_recotap.target import TargetRecotap; "
    "TargetRecotap._MAX_RECORD_AGE_IN_MINUTES = 0; sys.argv[0] = 'target-recotap'; "
    "TargetRecotap.cli()"
)


def test_states_emitted_mid_run_before_a_sigterm_cover_only_confirmed_records(
    hostile: HostileServer, tmp_path: Path
) -> None:
    api = AccountsAPI(hostile)
    accounts = _accounts(60)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(target_config(hostile, tmp_path, max_in_flight_batches=4)))
    target = subprocess.Popen(
        [sys.executable, "-c", _EVERY_RECORD_DRAINS, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert target.stdin is not None
    assert target.stdout is not None
    first = [schema("accounts", ["domain", "name"])]
    for position, account in enumerate(accounts[:50], start=1):
        first += [record("accounts", account), state({"records_before": position})]
    target.stdin.write(lines(first))
    target.stdin.flush()
    # A drain after each record emits the latest STATE read: STATE 1 .. 49 (STATE 50 would come
    # with the next record's drain).
    watchdog = threading.Timer(60, target.kill)  # a broken target must not hang the suite
    watchdog.start()
    states_before = [target.stdout.readline() for _ in range(49)]
    watchdog.cancel()
    api.hold()  # the next record's drain now waits for Recotap
    target.stdin.write(lines([record("accounts", accounts[50]), state({"records_before": 51})]))
    target.stdin.flush()
    api.wait_until(lambda: api.received() == 51, "the 51st record is in flight")
    target.send_signal(signal.SIGTERM)
    api.release()
    stdout, stderr = target.communicate(timeout=60)

    all_states = "".join(states_before) + stdout
    run = subprocess.CompletedProcess([], target.returncode, all_states, stderr)
    assert run.returncode == 128 + signal.SIGTERM
    _assert_no_state_past_unconfirmed(run, api, accounts)
    emitted = [json.loads(line)["records_before"] for line in run.stdout.splitlines()]
    assert emitted == list(range(1, 50))  # none after the drain the signal interrupted
    assert "Stopped by SIGTERM before the end of the input" in run.stderr
