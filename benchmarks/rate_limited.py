"""Pushes against a rate-limited sandbox: fixed concurrency 1 and 4 beside the adaptive pace.

    .venv/bin/python -m benchmarks.rate_limited [--records N] [--latency-ms L] [--limits 10,60,none]

For each limit (requests per second per key, the sandbox's token bucket with its default burst
of one second's worth; "none" = no limit) and each program, the target pushes N distinct
accounts (100 per POST) into an empty workspace at L ms added latency. Throughput is accounts
per second over the push as the sandbox saw it (first POST arriving to last answer leaving),
so process start-up is not charged to the pace; the wall time is reported beside it. Without a
limit the sequential raw loop (benchmarks/raw_target.py) runs too, for the speed-up goal.
`python -m benchmarks` runs this after its own rows (see `rows` and `render`).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report as rep
from benchmarks.data import write_singer_file
from benchmarks.harness import Bench, Section
from recotap_sandbox.control import SandboxProcess

API_KEY = "bench-key"
RESULTS = Path(__file__).parent / "results"
POST_ACCOUNTS = "POST /api/v1/accounts"
BIN = Path(sys.executable).parent
# program -> target settings (None: the raw sequential loop)
PROGRAMS: dict[str, dict[str, Any] | None] = {
    "fixed 1": {"max_in_flight_batches": 1, "adaptive_concurrency": False},
    "fixed 4": {"max_in_flight_batches": 4, "adaptive_concurrency": False},
    "adaptive": {},  # the defaults
    "raw loop": None,
}
_PACE_RE = re.compile(r"Summary write pace: (.*)$", re.MULTILINE)
_SETTLED_RE = re.compile(r"(?:settled|fixed) at ([0-9.]+)")
GOAL_SHARE = 0.90  # of the limit, in accounts per second
GOAL_429 = 0.02  # of the requests
GOAL_SPEED_UP = 3.5  # over the raw loop, without a limit
RECORDS = 20_000  # accounts per push
PER_POST = 100  # accounts per POST /accounts
LIMITS: list[float | None] = [10.0, 60.0, None]  # requests per second per key; None: no limit
TABLE = "rate_limited"  # the report's table of these rows


@dataclass
class Row:
    """One push."""

    limit_rps: float | None
    program: str
    records: int
    wall_s: float = 0.0
    busy_s: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    items_sent: int = 0
    settled: str = ""
    pace: str = ""
    error: str | None = None

    @property
    def throughput(self) -> float:
        """Accounts per second over the push."""
        return self.items_sent / self.busy_s if self.busy_s > 0 else 0.0

    @property
    def share_429(self) -> float:
        """Share of the requests answered 429."""
        return self.rate_limited / self.requests if self.requests else 0.0


def push(sandbox: SandboxProcess, config: Path, singer: Path, row: Row) -> None:
    """Run one program on `singer` into an empty workspace; fill `row` from what the sandbox saw."""
    sandbox.admin.reset(seed_accounts=0, seed=1)
    settings = PROGRAMS[row.program]
    if settings is None:
        argv = [sys.executable, "-m", "benchmarks.raw_target", "--config", str(config)]
    else:
        base = json.loads(config.read_text(encoding="utf-8"))
        run_config = config.with_name(f"config-{row.program.replace(' ', '-')}.json")
        run_config.write_text(json.dumps({**base, **settings}), encoding="utf-8")
        argv = [str(BIN / "target-recotap"), "--config", str(run_config)]
    print(f"  rate-limited push: limit {row.limit_rps}, {row.program} ...", file=sys.stderr)
    with singer.open("rb") as stdin, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        done = subprocess.run(
            argv, check=False, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr
        )
        row.wall_s = time.perf_counter() - started
        stderr.seek(0)
        log = stderr.read().decode("utf-8", "replace")
    stats = sandbox.admin.stats()
    row.requests = stats["requests"].get(POST_ACCOUNTS, 0)
    row.rate_limited = sum(stats.get("rate_limited_by_key", {}).values())
    row.items_sent = sum(stats["batch_sizes"].get(POST_ACCOUNTS, []))
    row.busy_s = stats.get("busy_seconds", {}).get(POST_ACCOUNTS, 0.0)
    pace = _PACE_RE.search(log)
    row.pace = pace.group(1).strip() if pace else ""
    settled = _SETTLED_RE.search(row.pace)
    row.settled = settled.group(1) if settled else ("1" if settings is None else "")
    if done.returncode != 0:
        lines = [line for line in log.strip().splitlines() if line.strip()]
        row.error = f"exit {done.returncode}: {lines[-1][:200] if lines else ''}"
    elif row.items_sent != row.records:
        row.error = f"the sandbox received {row.items_sent} accounts, not {row.records}"


def rows(records: int, latency_ms: int, limits: list[float | None], workdir: Path) -> list[Row]:
    """Every push: per limit, per program (the raw loop only without a limit)."""
    singer = write_singer_file(workdir / f"accounts-{records}.singer", records)
    result: list[Row] = []
    with SandboxProcess(api_key=API_KEY, args=["--seed-accounts", "0"]) as sandbox:
        config = workdir / "target-config.json"
        config.write_text(
            json.dumps({"api_key": API_KEY, "api_url": sandbox.api_url, "upsert": True}),
            encoding="utf-8",
        )
        for limit in limits:
            for program in PROGRAMS:
                if program == "raw loop" and limit is not None:
                    continue
                # Set anew before each push: a fresh, full bucket for everyone.
                sandbox.admin.set_faults(latency_ms=latency_ms, rate_limit_rps=limit)
                row = Row(limit, program, records)
                push(sandbox, config, singer, row)
                result.append(row)
    return result


def goals(result: list[Row]) -> list[rep.Goal]:
    """Issue 18's goals, judged on the adaptive rows (N/A where a row was not measured)."""
    by = {(row.limit_rps, row.program): row for row in result}
    checks: list[rep.Goal] = []
    for limit in LIMITS:
        if limit is None:
            continue
        row = by.get((limit, "adaptive"))
        want = GOAL_SHARE * limit * PER_POST
        pace = rep.Goal(f"push at {limit:g} req/s: adaptive accounts/s", f">= {want:,.0f}")
        storm = rep.Goal(f"push at {limit:g} req/s: adaptive 429 share", f"<= {GOAL_429:.0%}")
        if row is not None and row.error is None:
            _judge(pace, row.throughput, f"{row.throughput:,.0f}", passed=row.throughput >= want)
            _judge(storm, row.share_429, f"{row.share_429:.1%}", passed=row.share_429 <= GOAL_429)
            pace.detail = storm.detail = f"{row.rate_limited} of {row.requests} POSTs were 429"
        checks += [pace, storm]
    adaptive, fixed4, raw = (by.get((None, name)) for name in ("adaptive", "fixed 4", "raw loop"))
    versus_fixed = rep.Goal("push, no limit: adaptive vs fixed 4 (wall)", "<= 1.00x")
    speed_up = rep.Goal(
        "push, no limit: adaptive speed-up over raw loop", f">= {GOAL_SPEED_UP:.2f}x"
    )
    if adaptive and fixed4 and not (adaptive.error or fixed4.error):
        ratio = adaptive.wall_s / fixed4.wall_s
        rep.judge(versus_fixed, ratio, passed=ratio <= 1.0)
        versus_fixed.detail = (
            f"wall: adaptive {adaptive.wall_s:.2f} s / fixed 4 {fixed4.wall_s:.2f} s"
        )
    if adaptive and raw and not (adaptive.error or raw.error):
        ratio = raw.wall_s / adaptive.wall_s
        rep.judge(speed_up, ratio, passed=ratio >= GOAL_SPEED_UP)
        speed_up.detail = f"wall: raw loop {raw.wall_s:.2f} s / adaptive {adaptive.wall_s:.2f} s"
    return [*checks, versus_fixed, speed_up]


def _judge(goal: rep.Goal, value: float, measured: str, *, passed: bool) -> None:
    goal.value, goal.measured, goal.status = value, measured, rep.PASS if passed else rep.FAIL


def render(result: list[Row]) -> str:
    """The rows and the goals as a plain-text table."""
    lines = [
        "rate-limited pushes (100 accounts per POST; throughput over the push as the sandbox "
        "saw it)",
        f"{'limit':>8} {'program':<9} {'accounts':>9} {'wall s':>7} {'push s':>7} "
        f"{'acc/s':>7} {'POSTs':>6} {'429s':>5} {'429 %':>6} {'settled':>8}  status",
    ]
    for row in result:
        limit = "none" if row.limit_rps is None else f"{row.limit_rps:g}/s"
        lines.append(
            f"{limit:>8} {row.program:<9} {row.records:>9,} {row.wall_s:>7.2f} "
            f"{row.busy_s:>7.2f} {row.throughput:>7,.0f} {row.requests:>6} "
            f"{row.rate_limited:>5} {row.share_429:>6.1%} {row.settled:>8}  "
            f"{row.error or 'ok'}"
        )
    return "\n".join(lines)


def as_json(result: list[Row]) -> list[dict[str, Any]]:
    """The rows for the results file."""
    return [
        {**asdict(row), "throughput": row.throughput, "share_429": row.share_429} for row in result
    ]


def measure(bench: Bench) -> None:
    """The section's runs: every push, kept as a table of the report (and printed with it)."""
    # 20,000 accounts in a full run; a quick or partial run with fewer records pushes those.
    records = RECORDS if bench.report.kind == rep.FULL else min(RECORDS, bench.settings["records"])
    result = rows(records, bench.settings["latency_ms"], LIMITS, bench.workdir)
    bench.report.tables[TABLE] = as_json(result)
    bench.report.texts.append(render(result))


def report_goals(report: rep.Report) -> list[rep.Goal]:
    """The goals, judged on the rows a run of this section left in `report`."""
    names = {f.name for f in fields(Row)}
    kept = [
        Row(**{k: v for k, v in row.items() if k in names}) for row in report.tables.get(TABLE, [])
    ]
    return goals(kept)


SECTION = Section("rate", measure, report_goals)


def _limits(text: str) -> list[float | None]:
    return [None if part == "none" else float(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    """Run the rate-limited pushes alone and print their table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rate_limited")
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--limits", type=_limits, default=LIMITS)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recotap-rate-") as workdir:
        result = rows(args.records, args.latency_ms, args.limits, Path(workdir))
    print(render(result))
    for goal in goals(result):
        print(f"{goal.name:52} {goal.limit:12} {goal.measured:10} {goal.status}")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"{stamp}-rate-limited.json"
    path.write_text(json.dumps(as_json(result), indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}")
    return 0 if all(row.error is None for row in result) else 1


if __name__ == "__main__":
    sys.exit(main())
