"""Several write batches in flight: bounded, per-key ordered, stream-ordered, backing off as one.

Concurrency is observed through the sandbox: the order in which accounts were created (their
`rtp_aid` grows with creation) and the write stamp each request leaves (`updatedAt`). A `slow`
fault makes one request take a known time, so what overtakes it shows what was in flight.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from target_recotap.in_flight import INLINE_BELOW, InFlightBatches
from target_recotap.target import TargetRecotap

TARGET_CLI = Path(sys.executable).parent / "target-recotap"


def _start_target(config: Path, *, stderr: int) -> subprocess.Popen[str]:
    """target-recotap as its own process (for signals), Singer lines on stdin and stdout."""
    return subprocess.Popen(
        [str(TARGET_CLI), "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _batch_accounts(batches: int, size: int = 100) -> list[dict]:
    return [
        {"domain": f"b{b}-{i}.flight.example.org", "name": f"B{b} {i}"}
        for b in range(batches)
        for i in range(size)
    ]


def _flight_accounts(sandbox) -> list[dict]:
    return [
        a for a in sandbox.admin.dump()["accounts"] if a["domain"].endswith(".flight.example.org")
    ]


def _batch_of(account: dict) -> int:
    return int(account["domain"].split("-", 1)[0].removeprefix("b"))


def _creation_order(sandbox) -> list[int]:
    """Batch numbers in the order Recotap created their first account."""
    order: list[int] = []
    for account in sorted(_flight_accounts(sandbox), key=lambda a: a["rtp_aid"]):
        if _batch_of(account) not in order:
            order.append(_batch_of(account))
    return order


def test_later_batches_overtake_a_slow_one_while_it_is_in_flight(harness, sandbox):
    sandbox.admin.set_faults(script=["slow"], slow_ms=1000)

    result = harness.run(harness.stream("accounts", _batch_accounts(4)))

    assert result.counts("accounts") == {"created": 400}
    assert len(_flight_accounts(sandbox)) == 400
    # The first request was held for a second; the batches read after it went on meanwhile.
    assert _creation_order(sandbox) != [0, 1, 2, 3]


def test_one_batch_in_flight_keeps_every_batch_in_input_order(harness, sandbox):
    sandbox.admin.set_faults(script=["slow"], slow_ms=300)

    harness.run(harness.stream("accounts", _batch_accounts(4)), max_in_flight_batches=1)

    assert _creation_order(sandbox) == [0, 1, 2, 3]


def test_no_more_batches_are_in_flight_than_max_in_flight_batches(harness, sandbox):
    # Both slots are taken by slow requests: the third full batch must wait for one of them, so
    # the target reads no record past it until Recotap has stored a batch. (The worker pool
    # alone would queue the third batch and read on: memory would grow with the input.)
    sandbox.admin.set_faults(script=["slow", "slow"], slow_ms=1500)
    messages = harness.stream("accounts", _batch_accounts(4))
    first_of_fourth_batch = 1 + 300  # after the SCHEMA and three full batches
    stored_when_read: list[int] = []

    def singer_lines() -> Iterator[str]:
        for index, message in enumerate(messages):
            if index == first_of_fourth_batch:
                stored_when_read.append(len(_flight_accounts(sandbox)))
            yield json.dumps(message) + "\n"

    target = TargetRecotap(config=harness.config(max_in_flight_batches=2))
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(singer_lines())

    assert target.run.report.counts("accounts") == {"created": 400}
    assert stored_when_read[0] >= 100
    assert _creation_order(sandbox)[0] in {0, 1}


def test_two_writes_of_one_domain_reach_recotap_in_input_order(harness, sandbox):
    records = _batch_accounts(6)
    # The same account in the first two batches, another one in batches 2 to 5.
    records[10] = {"domain": "https://www.Same.example.org/", "name": "first"}
    records[110] = {"domain": "same.example.org", "name": "second"}
    for batch in range(2, 6):
        records[batch * 100 + 7] = {"domain": "other.example.org", "name": f"v{batch}"}
    # The first batch is slow; afterwards every request may fail after Recotap wrote it and be
    # retried, so a retry of an older write could land after a newer one if both were in flight.
    sandbox.admin.set_faults(
        script=["slow"],
        slow_ms=500,
        error_rate=0.3,
        error_statuses=[503],
        after_write_share=1.0,
        seed=11,
    )

    result = harness.run(harness.stream("accounts", records), max_retries=10)

    assert result.exit_code == 0
    names = {a["domain"]: a["name"] for a in sandbox.admin.dump()["accounts"]}
    assert names["same.example.org"] == "second"
    assert names["other.example.org"] == "v5"
    domains = [a["domain"] for a in sandbox.admin.dump()["accounts"]]
    assert len(domains) == len(set(domains))  # nothing created twice
    assert sandbox.admin.stats()["faults_injected"]["503"] > 0


def test_a_later_stream_waits_for_the_accounts_it_refers_to(harness, sandbox):
    accounts = _batch_accounts(1)
    # A full batch of deals, sent while reading goes on, each naming one of those accounts.
    deals = [
        {
            "externalDealId": f"deal-{i}",
            "name": f"Deal {i}",
            "associatedAccounts": [{"domain": account["domain"]}],
        }
        for i, account in enumerate(accounts)
    ]
    sandbox.admin.set_faults(script=["slow"], slow_ms=700)  # the accounts batch

    harness.run([*harness.stream("accounts", accounts), *harness.stream("deals", deals)])

    stored = sandbox.admin.dump()["deals"]
    assert len(stored) == 100
    # Linked: every account was in Recotap before the deals naming it were sent (§4.9).
    assert all(deal["associatedAccounts"][0]["rtp_aid"] for deal in stored)


def test_a_429_holds_back_every_request_until_its_retry_after(harness, sandbox, target_logs):
    sandbox.admin.set_faults(latency_ms=50, script=[429], retry_after=1)

    result = harness.run(harness.stream("accounts", _batch_accounts(12)))

    assert result.counts("accounts") == {"created": 1200}
    stamps = sorted({_stamp(a["updatedAt"]) for a in _flight_accounts(sandbox)})
    assert len(stamps) == 12  # one write per batch
    # Only the batches already in flight when the 429 came back (at most 3 besides the one that
    # got it) may be written before its Retry-After (1 s) has passed; the rest waited.
    early = [s for s in stamps if s < stamps[0] + 0.9]
    assert len(early) <= 3
    assert sandbox.admin.stats()["faults_injected"]["429"] == 1
    pauses = [r for r in target_logs.records if "holding every request" in r.getMessage()]
    assert len(pauses) == 1


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_state_is_emitted_only_after_the_batches_in_flight_are_confirmed(
    harness, sandbox, tmp_path
):
    messages = [
        *harness.stream("accounts", _batch_accounts(3)),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "3"}}}),
    ]
    sandbox.admin.set_faults(script=["slow"], slow_ms=1000)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(harness.config()))

    with _start_target(config, stderr=subprocess.DEVNULL) as target:
        assert target.stdin is not None
        assert target.stdout is not None
        target.stdin.write("".join(json.dumps(message) + "\n" for message in messages))
        target.stdin.close()
        state_line = target.stdout.readline()
        stored_when_state_came = len(_flight_accounts(sandbox))
        assert target.wait(timeout=60) == 0

    assert json.loads(state_line) == {"bookmarks": {"accounts": {"replication_key_value": "3"}}}
    assert stored_when_state_came == 300


def test_a_batch_failing_in_the_background_fails_the_run_without_state(harness, sandbox):
    messages = [
        *harness.stream("accounts", _batch_accounts(20)),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "20"}}}),
    ]
    # The first two requests go through; every later one is refused before anything is written.
    sandbox.admin.set_faults(
        script=["ok", "ok"], error_rate=1.0, error_statuses=[503], after_write_share=0.0
    )

    result = harness.cli(messages, max_retries=3)

    assert result.exit_code != 0
    assert result.stdout == ""  # no STATE
    assert result.stderr.count("Recotap still failing after 3 attempts") >= 1
    assert "Recotap answered 503 to POST /api/v1/accounts" in result.stderr
    assert len(_flight_accounts(sandbox)) == 200
    # The failure stopped the run: no batch started after it.
    assert sandbox.admin.stats()["requests"]["POST /api/v1/accounts"] <= 2 + 4 * 3


def test_a_rejected_key_in_a_background_batch_fails_the_run_with_the_auth_help(harness, sandbox):
    result = harness.cli(harness.stream("accounts", _batch_accounts(5)), api_key="not-the-key")

    assert result.exit_code != 0
    assert result.stdout == ""
    assert "Recotap rejected the API key" in result.stderr
    assert "not-the-key" not in result.stderr
    assert _flight_accounts(sandbox) == []


def test_batches_overlap_only_while_the_api_is_slow():
    batches = InFlightBatches(4)
    threads: list[str] = []

    def send(seconds: float) -> Callable[[], None]:
        def run() -> None:
            threads.append(threading.current_thread().name)
            time.sleep(seconds)

        return run

    try:
        for index in range(4):  # fast answers: after the first, sent by the caller itself
            batches.submit("accounts", [f"fast-{index}"], send(0))
            batches.wait()
        assert threads[1:] == ["MainThread"] * 3
        for index in range(12):  # slow answers: back in flight on the worker threads
            batches.submit("accounts", [f"slow-{index}"], send(INLINE_BELOW * 3))
        batches.wait()
        assert threads[-1] != "MainThread"
    finally:
        batches.close()


def test_sigterm_during_a_batch_sent_inline_stops_without_state(harness, sandbox, tmp_path):
    config = tmp_path / "config.json"
    # Small batches answer fast, so after the first ones the next is sent by the reading thread.
    config.write_text(json.dumps(harness.config(batch_size_rows=10)))
    records = _batch_accounts(4, size=10)
    first = [*harness.stream("accounts", records[:30]), harness.state({"pushed": 30})]
    with _start_target(config, stderr=subprocess.PIPE) as target:
        assert target.stdin is not None
        target.stdin.write("".join(json.dumps(message) + "\n" for message in first))
        target.stdin.flush()
        _wait_for_requests(sandbox, 3)
        sandbox.admin.set_faults(script=["slow"], slow_ms=5000)
        more = [{"type": "RECORD", "stream": "accounts", "record": r} for r in records[30:]]
        target.stdin.write("".join(json.dumps(message) + "\n" for message in more))
        target.stdin.flush()
        _wait_for_requests(sandbox, 4)
        target.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = target.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            target.kill()
            raise AssertionError("the target hung after SIGTERM") from None

    # Whether the slow batch was sent inline or by a worker, the answer is the same: the run
    # stopped before the end of its input, so no STATE and a failed exit.
    assert target.returncode == 128 + signal.SIGTERM, stderr
    assert stdout == ""
    assert "Stopped by SIGTERM before the end of the input" in stderr
    assert "Traceback" not in stderr


def _wait_for_requests(sandbox, count: int) -> None:
    deadline = time.monotonic() + 30
    while sandbox.admin.stats()["requests"].get("POST /api/v1/accounts", 0) < count:
        assert time.monotonic() < deadline
        time.sleep(0.02)
