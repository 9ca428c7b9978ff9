"""The write pace as a user sees it, in-process over loopback HTTP: the summary's pace line in
each of its three forms, and the name of the threads that send batches in the background.

The adaptive-pace tests (`test_target_adaptive_concurrency.py`) run `target-recotap` as a
process, which mutation testing cannot credit (docs/mutation.md); these run the target in the
test process against the sandbox.
"""

from __future__ import annotations

import itertools
import logging
import re
import time

from recotap_client.concurrency import DEFAULT_CEILING, AdaptiveConcurrency
from target_recotap.in_flight import InFlightBatches

PACE = "Summary write pace: "


def _accounts(batches: int, size: int = 10) -> list[dict]:
    return [
        {"domain": f"g{b}-{i}.gap.example.org", "name": f"G{b} {i}"}
        for b in range(batches)
        for i in range(size)
    ]


def _pace_line(target_logs) -> str:
    (line,) = [r.getMessage() for r in target_logs.records if r.getMessage().startswith(PACE)]
    return line.removeprefix(PACE)


def test_a_fixed_pace_is_summarised_as_fixed(harness, target_logs):
    result = harness.run(
        harness.stream("accounts", _accounts(3)),
        batch_size_rows=10,
        adaptive_concurrency=False,
        max_in_flight_batches=3,
    )

    assert result.counts("accounts") == {"created": 30}
    line = _pace_line(target_logs)
    assert re.fullmatch(
        r"fixed at 3 request\(s\) in flight; \d+\.\d\d in flight on average; "
        r"0 of 3 answer\(s\) were 429 \(rate limited\)",
        line,
    ), line


def test_an_adaptive_pace_without_429_is_summarised_as_a_window(harness, target_logs):
    result = harness.run(harness.stream("accounts", _accounts(3)), batch_size_rows=10)

    assert result.counts("accounts") == {"created": 30}
    line = _pace_line(target_logs)
    assert re.fullmatch(
        rf"settled at \d+\.\d\d request\(s\) in flight, ceiling {DEFAULT_CEILING}; "
        r"\d+\.\d\d in flight on average; 0 of 3 answer\(s\) were 429 \(rate limited\)",
        line,
    ), line


def test_after_a_429_the_pace_is_summarised_as_a_rate(harness, sandbox, target_logs):
    # After a 429 the pace spaces requests out (docs: adaptive_concurrency): the summary says
    # at what rate.
    sandbox.admin.set_faults(script=[429], retry_after=0)

    result = harness.run(harness.stream("accounts", _accounts(3)), batch_size_rows=10)

    assert result.counts("accounts") == {"created": 30}
    line = _pace_line(target_logs)
    assert re.fullmatch(
        r"settled at \d+\.\d\d request\(s\) in flight \(\d+\.\d requests/s\), "
        rf"ceiling {DEFAULT_CEILING}; "
        r"\d+\.\d\d in flight on average; 1 of 4 answer\(s\) were 429 \(rate limited\)",
        line,
    ), line


def test_batches_in_flight_are_sent_by_threads_named_for_it(harness, caplog):
    # singer-sdk's structured (JSON) log format shows each line's `thread_name`: the request
    # lines of the batches sent in the background say they come from the target's senders.
    with caplog.at_level(logging.DEBUG, logger="target-recotap"):
        result = harness.run(harness.stream("accounts", _accounts(1)), batch_size_rows=10)

    assert result.counts("accounts") == {"created": 10}
    (sent,) = [r for r in caplog.records if r.getMessage().startswith("POST /accounts -> 200")]
    assert re.fullmatch(r"recotap-send_\d+", sent.threadName), sent.threadName


def test_a_paced_start_waits_for_its_gap_even_when_it_is_under_a_second():
    # After a 429 from a slow API the pace spaces starts out (docs: adaptive_concurrency); here
    # about four a second at quarter-second answers. Each batch waits for its gap.
    pace = AdaptiveConcurrency(4)
    pace.answered(200, 0.25)
    pace.answered(429, 0.25)
    rate = pace.report().rate
    assert rate is not None
    gap = 1 / rate
    assert 0.1 < gap < 1.0
    batches = InFlightBatches(4, pace)
    starts: list[float] = []
    try:
        for n in range(3):
            batches.submit("accounts", [f"k{n}"], lambda: starts.append(time.monotonic()))
        batches.wait()
    finally:
        batches.close()

    assert len(starts) == 3
    # A lower bound only: a busy machine can make the gaps longer, never shorter.
    assert all(later - earlier >= 0.8 * gap for earlier, later in itertools.pairwise(starts))
