"""The adaptive write pace, in process and deterministic: a fake clock, answers fed by hand or
by a simulated API (the sandbox's own token bucket, with the session's 429 pause).

The real-HTTP tests of the same behaviour are in tests/target/test_target_adaptive_concurrency.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from recotap_client.concurrency import (
    DEFAULT_CEILING,
    MEASURED_SHARE,
    PLATEAU,
    AdaptiveConcurrency,
)
from recotap_sandbox.faults import TokenBucket

BASE = 0.050  # seconds: the answer time of an unloaded request


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _answer(pace: AdaptiveConcurrency, clock: Clock, status: int = 200, seconds: float = BASE):
    """One request sent now, answered `seconds` later."""
    pace.started()
    clock.advance(seconds)
    pace.answered(status, seconds)
    pace.finished()


def test_fixed_concurrency_is_always_the_ceiling_and_never_paced():
    clock = Clock()
    pace = AdaptiveConcurrency(4, adaptive=False, clock=clock)
    for status in (200, 429, 429, 200):
        _answer(pace, clock, status)
        assert pace.in_flight_limit() == 4
        assert pace.start_delay() == 0
    assert pace.report().rate_limited == 2


def test_starts_with_two_and_grows_one_every_two_round_trips_up_to_the_ceiling():
    clock = Clock()
    pace = AdaptiveConcurrency(6, clock=clock)
    limits = []
    for _ in range(10):  # a round trip: as many answers as the window allowed in flight
        limit = pace.in_flight_limit()
        limits.append(limit)
        for _ in range(limit):
            pace.started()
        clock.advance(BASE)
        for _ in range(limit):
            pace.answered(200, BASE)
            pace.finished()
    # The window is 2, 2.5, 3, 3.5, ... (whole requests in flight: rounded up).
    assert limits == [2, 3, 4, 4, 5, 5, 6, 6, 6, 6]
    assert pace.start_delay() == 0


def test_slow_answers_do_not_grow_the_window():
    clock = Clock()
    pace = AdaptiveConcurrency(6, clock=clock)
    for _ in range(3):
        _answer(pace, clock)
    grown = pace.in_flight_limit()
    _answer(pace, clock, seconds=1.0)
    _answer(pace, clock, seconds=1.0)
    assert pace.in_flight_limit() == grown


def test_a_ceiling_of_one_is_one():
    clock = Clock()
    pace = AdaptiveConcurrency(1, clock=clock)
    _answer(pace, clock)
    clock.advance(10)
    assert pace.in_flight_limit() == 1


def test_the_first_429_goes_on_under_the_limit_bounded_by_the_start_of_the_run():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    for _ in range(40):  # 40 answers in 2 s
        _answer(pace, clock)
    assert pace.in_flight_limit() == 4

    _answer(pace, clock, 429)

    # At most a second's worth saved up: the limit is at least 40 / (2 s + 1 s) a second.
    limit = 40 / 3
    assert pace.report().rate == pytest.approx(limit * MEASURED_SHARE)
    assert pace.in_flight_limit() == 1  # 12.7 a second at 50 ms is less than one in flight
    pace.started()
    assert pace.start_delay() == pytest.approx(1 / (limit * MEASURED_SHARE))
    # ... and climbs back to the limit over PLATEAU answers.
    for _ in range(PLATEAU):
        clock.advance(1 / limit - BASE)
        _answer(pace, clock)
    assert pace.report().rate == pytest.approx(limit, rel=0.01)


def test_the_first_429_counts_every_request_started_before_it_as_admitted():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    clock.advance(5.0)  # reading input before the first batch is full: not part of the span
    for _ in range(20):  # 20 answers in 1 s
        _answer(pace, clock)
    pace.started()  # a batch of 100 accounts, still being answered when ...
    clock.advance(0.010)
    pace.started()  # ... the next one is answered 429 at once (the bucket is empty)
    clock.advance(0.010)
    pace.started()  # one more, sent after it
    clock.advance(0.030)

    pace.answered(429, 0.035)

    # 21 admitted (20 answered, 1 in flight) from the first start to the 429's request, plus
    # a second's worth saved up.
    assert pace.report().rate == pytest.approx(21 / (1.015 + 1) * MEASURED_SHARE)


@pytest.mark.parametrize("clean_answers_before", [0, 1])
def test_a_429_at_the_very_start_goes_back_to_one_request_at_a_time(clean_answers_before):
    # Another program had just used up the key's allowance: a handful of requests bound the
    # limit too loosely to go by.
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    for _ in range(clean_answers_before):
        _answer(pace, clock)

    _answer(pace, clock, 429)

    assert pace.in_flight_limit() == 1
    # About one request per answer time: the next starts one answer time after this one, or
    # a little later (the curve starts at least 5% under where it levels out).
    pace.started()
    assert BASE - 1e-9 <= pace.start_delay() <= BASE / MEASURED_SHARE + 1e-9


def test_the_first_429_at_least_halves_the_pace():
    clock = Clock()
    pace = AdaptiveConcurrency(1, clock=clock)
    for _ in range(40):  # one at a time: 20 a second, for 2 s
        _answer(pace, clock)

    _answer(pace, clock, 429)

    # The bound (40 / 3 s) is above half the pace that met the 429: it starts at half.
    assert pace.report().rate == pytest.approx(20 / 2)


def test_every_429_slows_the_pace_even_when_all_before_it_was_admitted():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    for _ in range(40):
        _answer(pace, clock)
    _answer(pace, clock, 429)
    for _ in range(PLATEAU):  # at the pace, every request admitted
        clock.advance(pace.start_delay())
        _answer(pace, clock)
    before = pace.report().rate
    assert before is not None

    _answer(pace, clock, 429)

    # What came through was the pace itself: it goes on at least 10% slower (then 5% under).
    assert pace.report().rate <= before * 0.9 * MEASURED_SHARE * 1.01


def test_429s_to_requests_sent_before_the_cut_are_the_same_event():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    _answer(pace, clock)
    clock.advance(1.0)
    for _ in range(4):  # four in flight, all sent before the first 429 came back
        pace.started()
    clock.advance(BASE)
    pace.answered(429, BASE)
    after_first = pace.report().rate
    clock.advance(0.001)
    pace.answered(429, BASE + 0.001)
    pace.answered(429, BASE + 0.001)

    assert pace.report().rate == pytest.approx(after_first, rel=0.01)  # not cut again
    assert pace.report().rate_limited == 3


def test_the_second_429_measures_the_limit_between_the_two():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    for _ in range(40):  # 40 answers in 2 s: the first 429 bounds the limit at 13.3 a second
        _answer(pace, clock)
    _answer(pace, clock, 429)  # the bucket is empty now
    # Then 30 requests get through in 3 seconds (10 a second) before the next 429.
    for _ in range(30):
        clock.advance(0.1 - BASE)
        _answer(pace, clock)
    _answer(pace, clock, 429)

    report = pace.report()
    assert report.rate is not None
    # 30 answers to requests sent in the 3 s between the two (less the last answer time):
    # on a little under 10 a second.
    assert report.rate == pytest.approx(10 * MEASURED_SHARE, rel=0.02)
    assert report.window == pytest.approx(report.rate * BASE)


def test_after_a_cut_the_pace_climbs_back_then_beyond():
    clock = Clock()
    pace = AdaptiveConcurrency(16, clock=clock)
    for _ in range(40):
        _answer(pace, clock)
    _answer(pace, clock, 429)
    for _ in range(20):
        clock.advance(0.05)
        _answer(pace, clock)
    _answer(pace, clock, 429)
    measured = pace.report().rate
    assert measured == pytest.approx(10 * MEASURED_SHARE, rel=0.02)

    rates = []
    for count in range(1, 4 * PLATEAU + 1):
        _answer(pace, clock)
        if count % PLATEAU == 0:
            rates.append(pace.report().rate or math.inf)

    # Back to the measured limit after PLATEAU answers, then faster and faster.
    assert rates[0] == pytest.approx(measured / MEASURED_SHARE, rel=0.01)
    assert rates[0] < rates[1] < rates[2] < rates[3]
    assert rates[3] - rates[2] > rates[2] - rates[1] > rates[1] - rates[0]


def test_one_slow_answer_changes_nothing_but_lasting_slowness_shrinks_the_window():
    clock = Clock()
    pace = AdaptiveConcurrency(8, clock=clock)
    for _ in range(70):
        _answer(pace, clock)
    assert pace.in_flight_limit() == 8

    _answer(pace, clock, seconds=0.5)  # a hiccup
    assert pace.in_flight_limit() == 8

    for _ in range(5):  # the server is queueing: answers four times slower
        _answer(pace, clock, seconds=4 * BASE + 0.03)
    assert pace.in_flight_limit() <= 5
    assert pace.report().rate_limited == 0


def test_the_report_counts_answers_429s_and_the_mean_in_flight():
    clock = Clock()
    pace = AdaptiveConcurrency(4, clock=clock)
    pace.started()
    pace.started()
    clock.advance(1.0)
    pace.answered(200, 1.0)
    pace.answered(429, 1.0)
    pace.finished()
    pace.finished()
    clock.advance(1.0)

    report = pace.report()

    assert (report.answers, report.rate_limited, report.ceiling) == (2, 1, 4)
    assert report.mean_in_flight == pytest.approx(1.0)  # two for a second, none for a second


# --- the rules against a simulated rate-limited API ------------------------------------------


@dataclass
class SimulatedApi:
    """The sandbox's token bucket (None: no limit) answering after `latency`; a 429 pauses every
    request for 1 s (the session's PauseGate) and its request is retried after the pause."""

    bucket: TokenBucket | None
    latency: float = BASE
    paused_until: float = 0.0
    admitted: int = 0
    limited: int = 0

    def take(self, now: float) -> bool:
        return self.bucket is None or self.bucket.take(now)


def _bucket(rate: float | None, now: float) -> TokenBucket | None:
    """A full bucket of a second's worth, as the sandbox's default burst."""
    return None if rate is None else TokenBucket(rate, rate, now)


def simulate(
    rate: float | None,
    requests: int,
    *,
    ceiling: int = DEFAULT_CEILING,
    change: tuple[int, float | None] = (),
) -> tuple[SimulatedApi, AdaptiveConcurrency, float]:
    """Push `requests` batches through the pace; `change` = (after N admitted, new rate)."""
    clock = Clock()
    start = clock.now
    api = SimulatedApi(_bucket(rate, clock.now))
    pace = AdaptiveConcurrency(ceiling, clock=clock)
    in_flight: list[tuple[float, float]] = []  # (answer time, send time)
    waiting_retries: list[float] = []
    sent = 0
    step = 0.001
    while api.admitted < requests:
        now = clock.now
        if change and api.admitted >= change[0]:
            api.bucket = _bucket(change[1], now)
            change = ()
        for answer_at, sent_at in [f for f in in_flight if f[0] <= now]:
            in_flight.remove((answer_at, sent_at))
            seconds = answer_at - sent_at
            if api.take(sent_at + api.latency):
                api.admitted += 1
                pace.answered(200, seconds)
                pace.finished()
            else:
                api.limited += 1
                pace.answered(429, seconds)
                api.paused_until = max(api.paused_until, now + 1.0)
                waiting_retries.append(api.paused_until)
        if now >= api.paused_until:
            for _ in [r for r in waiting_retries if r <= now]:
                waiting_retries.remove(_)
                in_flight.append((now + api.latency, now))
            batches = len(in_flight) + len(waiting_retries)
            if sent < requests and batches < pace.in_flight_limit() and pace.start_delay() <= 0:
                pace.started()
                sent += 1
                in_flight.append((now + api.latency, now))
        clock.advance(step)
    return api, pace, clock.now - start


@pytest.mark.parametrize("rate", [10.0, 60.0])
def test_at_a_limit_the_pace_settles_just_under_it_with_few_429s(rate):
    requests = int(rate * 60)  # a minute's worth at the limit

    api, pace, seconds = simulate(rate, requests)

    throughput = api.admitted / seconds
    assert throughput >= 0.9 * rate
    assert api.limited / (api.admitted + api.limited) <= 0.02
    # Settled near the limit's window (at 60 a second that is 3 of the ceiling's 4).
    assert 0.8 * rate * BASE <= pace.report().window <= 1.5 * rate * BASE


@pytest.mark.parametrize("rate", [10.0, 60.0])
def test_a_short_push_pays_few_429s_for_the_burst_that_hides_the_limit(rate):
    # 200 requests: at 60 a second, most of them fit in the one-second burst and the refill,
    # so the limit shows only late, with the window grown; at 10 it shows at once.
    api, _, seconds = simulate(rate, 200)

    assert api.limited <= 4  # 2%
    assert api.admitted / seconds >= 0.9 * rate


def test_without_a_limit_the_pace_reaches_the_ceiling_at_once():
    api, pace, seconds = simulate(None, 400, ceiling=4)

    # 400 requests of 50 ms, 4 at a time: 5 s; the ramp from 2 costs a few round trips.
    assert seconds <= 5.0 + 4 * BASE
    assert api.limited == 0
    assert pace.report().window == 4


def test_a_lifted_limit_is_left_behind_and_a_lowered_one_followed():
    _, lifted_pace, _ = simulate(10.0, 1200, ceiling=8, change=(300, None))
    lowered, lowered_pace, _ = simulate(None, 600, ceiling=8, change=(300, 10.0))

    assert lifted_pace.report().window == 8  # back at the ceiling
    assert lowered_pace.report().rate is not None
    assert lowered_pace.report().rate <= 12
    assert lowered.limited <= 12
