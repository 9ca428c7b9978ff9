"""The target section: pushes of N distinct accounts, without and with latency, then memory.

Each push reads a prepared Singer file (`benchmarks/data.py`) on stdin into an empty workspace,
so every account is created. `raw_target` and `target-recotap`, R times each, interleaved,
without and then with `--latency-ms` per request; then `target-recotap` alone at 10,000 and
1,000,000 accounts for peak RSS (not with --quick).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from benchmarks import report as rep
from benchmarks.data import write_singer_file
from benchmarks.harness import POST_ACCOUNTS, RAW_TARGET, TARGET, Bench, Section

if TYPE_CHECKING:
    from pathlib import Path

    from recotap_sandbox.control import SandboxProcess

BATCH = 100  # accounts per POST /accounts (docs/recotap-api.md §2.7)


def measure(bench: Bench) -> None:
    """Every target-side run."""
    records, latency = bench.settings["records"], bench.settings["latency_ms"]
    with bench.sandbox(0) as sandbox:
        config = bench.config(sandbox, "target", upsert=True)
        singer_file = write_singer_file(bench.workdir / f"accounts-{records}.singer", records)
        for delay in (0, latency):
            sandbox.admin.set_faults(latency_ms=delay)
            for _ in range(bench.settings["repeat"]):
                for program in (RAW_TARGET, TARGET):
                    _run(
                        bench, sandbox, program, config, singer_file, records=records, latency=delay
                    )
        sandbox.admin.clear_faults()
        for size in bench.settings["scale"] or ():
            path = write_singer_file(bench.workdir / f"accounts-{size}.singer", size)
            _run(bench, sandbox, TARGET, config, path, records=size, latency=0)
            path.unlink()


def goals(report: rep.Report) -> list[rep.Goal]:
    """Issue 17's target goals, each from runs of this report."""
    latency = report.settings["latency_ms"]
    return [
        rep.ratio_goal(
            f"target CPU per record vs {RAW_TARGET}",
            "<= 1.60x",
            report.find("target", TARGET),
            report.find("target", RAW_TARGET),
            of="cpu_s",
            passes=lambda ratio: ratio <= 1.6,
        ),
        _posts(report),
        rep.ratio_goal(
            f"target speed-up over {RAW_TARGET} at {latency} ms",
            ">= 3.50x",
            report.find("target", RAW_TARGET, latency_ms=latency, least="wall_s"),
            report.find("target", TARGET, latency_ms=latency, least="wall_s"),
            of="wall_s",
            passes=lambda speedup: speedup >= 3.5,
        ),
        rep.rss_growth(report, "target", TARGET),
    ]


SECTION = Section("target", measure, goals)


def _posts(report: rep.Report) -> rep.Goal:
    """Every target run sent exactly ceil(N / 100) POSTs: full batches, no retries, no splits."""
    goal = rep.Goal(f"target POSTs = ceil(N / {BATCH})", "exact, every target run")
    runs = [run for run in report.runs if run.program == TARGET and run.usage is not None]
    if runs and all(run.requests is not None for run in runs):
        expected = [math.ceil(run.records / BATCH) for run in runs]
        pairs = list(zip(runs, expected, strict=True))
        goal.measured = "all exact" if all(run.requests == want for run, want in pairs) else "off"
        goal.detail = ", ".join(f"{run.requests}/{want}" for run, want in pairs)
        goal.status = rep.PASS if goal.measured == "all exact" else rep.FAIL
    return goal


def _run(
    bench: Bench,
    sandbox: SandboxProcess,
    program: str,
    config: Path,
    singer_file: Path,
    *,
    records: int,
    latency: int,
) -> None:
    # Same starting point for every push: an empty workspace, so every account is created.
    sandbox.admin.reset(seed_accounts=0, seed=1)
    run = rep.Run("target", program, records, latency)
    bench.measure(run, sandbox, bench.argv(program, config), singer_file)
    if run.usage is None:
        return
    stats = sandbox.admin.stats()
    run.requests = stats["requests"].get(POST_ACCOUNTS, 0)
    run.items_sent = sum(stats["batch_sizes"].get(POST_ACCOUNTS, []))
    if run.usage.returncode == 0 and run.items_sent != records:
        run.error = f"the sandbox received {run.items_sent} accounts, not {records}"
