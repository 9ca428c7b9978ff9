"""Smoke test of the benchmark harness: a tiny run end to end, checking structure, not speed.

No timing is asserted (timings on a shared CI machine are noise); what is asserted is what a
reader of the report relies on: every program ran and was measured, request counts are exact,
the goals are all judged, and the API key appears nowhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import tap_side
from benchmarks.__main__ import kind_of, parse_args
from benchmarks.measure import Usage, run_measured
from benchmarks.report import Report, Run
from scripts import sync_docs

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 2000
PAGES = RECORDS // 100
LATENCY_MS = 10


def run_harness(results: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    argv = ["--quick", "--records", str(RECORDS), "--latency-ms", str(LATENCY_MS), "--repeat", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv, "--results-dir", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    written = re.search(r"results written to (\S+)", done.stdout)
    assert written, done.stdout + done.stderr
    path = Path(written.group(1))
    assert path.parent == results
    assert path.name.endswith("-quick.json")  # never mistaken for a full run
    return done, json.loads(path.read_text())


def fastest(report: dict, program: str) -> float:
    """The program's lowest wall time with latency: what the latency goals compare."""
    return min(r["wall_s"] for r in report["runs"] if r["program"] == program and r["latency_ms"])


def lowest_cpu(report: dict, program: str) -> float:
    """The program's lowest CPU without latency: what the CPU goals compare."""
    return min(
        r["cpu_s"] for r in report["runs"] if r["program"] == program and not r["latency_ms"]
    )


# One test for the whole run, so that pytest -n 2 does not start the harness twice.
def test_quick_run_measures_every_program_with_exact_request_counts(tmp_path):
    done, report = run_harness(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    expected = {
        ("tap", "fetch_only", 0),
        ("tap", "raw_tap", 0),
        ("tap", "tap-recotap", 0),
        ("tap", "default_sdk", 0),
        ("tap", "fetch_only", LATENCY_MS),
        ("tap", "tap-recotap", LATENCY_MS),
        ("tap", "default_sdk", LATENCY_MS),
        ("target", "raw_target", 0),
        ("target", "target-recotap", 0),
        ("target", "raw_target", LATENCY_MS),
        ("target", "target-recotap", LATENCY_MS),
    }
    runs = Counter((r["side"], r["program"], r["latency_ms"]) for r in report["runs"])
    assert set(runs) == expected
    # --repeat 2: every program twice, without and with latency.
    assert all(count == 2 for count in runs.values())
    for run in report["runs"]:
        assert run["ok"], run
        assert run["records"] == RECORDS
        assert run["cpu_s"] == pytest.approx(run["user_s"] + run["sys_s"])
        assert run["max_rss_kib"] > 0
        assert run["server_cpu_s"] is not None
        assert run["load_1m"] is not None
        # Exact request counts: one GET per page of 100 (tap side), one POST per 100 distinct
        # accounts and every account received once (target side).
        if run["side"] == "tap":
            assert run["requests"] == PAGES, run
        else:
            assert (run["requests"], run["items_sent"]) == (PAGES, RECORDS), run

    # A quick run says so, so that it is never taken for a full run (the README's source).
    assert report["kind"] == "quick"
    machine = report["machine"]
    for key in ("cpu", "cores", "memory_gib", "python", "git_commit", "date_utc"):
        assert machine[key] not in (None, "", "unknown"), key
    assert machine["singer_sdk"] == "0.54.9"
    assert len(machine["load_avg_start"]) == len(machine["load_avg_end"]) == 3

    goals = {goal["name"]: goal for goal in report["goals"]}
    assert list(goals) == [
        "tap CPU per record vs raw_tap",
        f"tap wall at {LATENCY_MS} ms vs fetch_only",
        f"tap wall at {LATENCY_MS} ms vs default_sdk",
        "tap peak RSS at 1,000,000 vs 10,000",
        "target CPU per record vs raw_target",
        "target POSTs = ceil(N / 100)",
        f"target speed-up over raw_target at {LATENCY_MS} ms",
        "target peak RSS at 1,000,000 vs 10,000",
        "push at 10 req/s: adaptive accounts/s",
        "push at 10 req/s: adaptive 429 share",
        "push at 60 req/s: adaptive accounts/s",
        "push at 60 req/s: adaptive 429 share",
        "push, no limit: adaptive vs fixed 4 (wall)",
        "push, no limit: adaptive speed-up over raw loop",
    ]
    # The rate-limited pushes (issue 18): every limit with fixed 1, fixed 4 and adaptive, the
    # raw loop without a limit; each push delivered every account.
    pushes = report["tables"]["rate_limited"]
    assert [(p["limit_rps"], p["program"]) for p in pushes] == [
        *(
            (limit, program)
            for limit in (10.0, 60.0)
            for program in ("fixed 1", "fixed 4", "adaptive")
        ),
        *((None, program) for program in ("fixed 1", "fixed 4", "adaptive", "raw loop")),
    ]
    assert all(p["error"] is None and p["items_sent"] == RECORDS for p in pushes), pushes
    assert all(goals[name]["status"] != "N/A" for name in list(goals)[8:])
    # Each ratio from the right runs: CPU goals from each program's lowest-CPU run without
    # latency, latency goals from its fastest run with latency.
    ratios = {
        "tap CPU per record vs raw_tap": lowest_cpu(report, "tap-recotap")
        / lowest_cpu(report, "raw_tap"),
        "target CPU per record vs raw_target": lowest_cpu(report, "target-recotap")
        / lowest_cpu(report, "raw_target"),
        f"tap wall at {LATENCY_MS} ms vs fetch_only": fastest(report, "tap-recotap")
        / fastest(report, "fetch_only"),
        f"tap wall at {LATENCY_MS} ms vs default_sdk": fastest(report, "tap-recotap")
        / fastest(report, "default_sdk"),
        f"target speed-up over raw_target at {LATENCY_MS} ms": fastest(report, "raw_target")
        / fastest(report, "target-recotap"),
    }
    for name, ratio in ratios.items():
        assert goals[name]["measured"] == f"{ratio:.3f}x", name
        assert goals[name]["value"] == pytest.approx(ratio), name
    assert goals["target POSTs = ceil(N / 100)"]["status"] == "PASS"
    for name, goal in goals.items():
        wanted = ("N/A",) if "peak RSS" in name else ("PASS", "FAIL")  # --quick: no 1M run
        assert goal["status"] in wanted, goal
        assert name in done.stdout  # the printed table shows every goal
    assert "bench-key" not in done.stdout + done.stderr

    # The README's table reads what the harness writes: every goal, as the report has it.
    relabelled = tmp_path / "as-full"
    relabelled.mkdir()
    (relabelled / "run.json").write_text(json.dumps({**report, "kind": "full"}))
    table = sync_docs.benchmark_block(relabelled)
    for goal in report["goals"]:
        assert f"| {goal['name']} |" in table
        assert f"| {goal['measured']} | {goal['status']} |" in table


def test_usage_is_the_measured_process_not_the_harness(tmp_path):
    ballast = bytearray(160 * 1024 * 1024)  # the harness is big; a measured process is not
    small = run_measured([sys.executable, "-c", "pass"], cwd=tmp_path)
    script = (
        "import sys; block = bytearray(96 * 1024 * 1024); sys.stderr.write('boom'); sys.exit(3)"
    )
    big = run_measured([sys.executable, "-c", script], cwd=tmp_path)
    assert len(ballast) > small.max_rss_kib * 1024
    assert small.max_rss_kib < 64 * 1024
    assert big.max_rss_kib >= 96 * 1024
    assert (small.returncode, small.stderr_tail) == (0, "")
    assert (big.returncode, big.stderr_tail) == (3, "boom")


def test_a_program_that_cannot_start_is_reported(tmp_path):
    usage = run_measured([str(tmp_path / "no-such-program")])
    assert usage.returncode == 127
    assert "cannot run" in usage.stderr_tail


def test_target_side_reads_the_prepared_file_on_stdin(tmp_path):
    singer = tmp_path / "in.singer"
    singer.write_text("x" * 5000)
    script = "import sys; sys.exit(0 if len(sys.stdin.read()) == 5000 else 1)"
    assert run_measured([sys.executable, "-c", script], stdin_path=singer).returncode == 0


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        ([], "full"),
        (["--repeat", "5"], "full"),
        (["--quick"], "quick"),
        (["--quick", "--records", "100000"], "quick"),
        (["--only", "tap"], "partial"),
        (["--records", "2000"], "partial"),
        (["--latency-ms", "10"], "partial"),
        (["--repeat", "1"], "partial"),
    ],
)
def test_only_a_run_of_every_section_at_the_default_size_is_a_full_run(argv, kind):
    # Only "full" results files feed the README's table (scripts/sync_docs.py).
    assert kind_of(parse_args(argv)) == kind


def synthetic_run(side: str, program: str, latency: int, wall: float, cpu: float) -> Run:
    run = Run(side, program, RECORDS, latency)
    run.usage = Usage(wall, cpu, 0.0, 50_000, 0, "")
    return run


def test_cpu_goals_take_the_lowest_cpu_run_and_latency_goals_the_fastest():
    # Each program's lowest-CPU run is not its fastest one: the goals must pick the right one.
    report = Report({"records": RECORDS, "latency_ms": LATENCY_MS, "scale": None})
    report.runs = [
        synthetic_run("tap", "raw_tap", 0, wall=1.0, cpu=2.0),
        synthetic_run("tap", "raw_tap", 0, wall=3.0, cpu=1.0),
        synthetic_run("tap", "tap-recotap", 0, wall=1.0, cpu=3.0),
        synthetic_run("tap", "tap-recotap", 0, wall=3.0, cpu=1.5),
        synthetic_run("tap", "fetch_only", LATENCY_MS, wall=10.0, cpu=1.0),
        synthetic_run("tap", "fetch_only", LATENCY_MS, wall=8.0, cpu=2.0),
        synthetic_run("tap", "tap-recotap", LATENCY_MS, wall=12.0, cpu=1.0),
        synthetic_run("tap", "tap-recotap", LATENCY_MS, wall=8.4, cpu=2.0),
        synthetic_run("tap", "default_sdk", LATENCY_MS, wall=13.0, cpu=1.0),
        synthetic_run("tap", "default_sdk", LATENCY_MS, wall=10.5, cpu=3.0),
    ]
    goals = {goal.name: goal for goal in tap_side.goals(report)}
    assert goals["tap CPU per record vs raw_tap"].measured == "1.500x"  # 1.5 / 1.0
    assert goals["tap CPU per record vs raw_tap"].status == "PASS"
    assert goals[f"tap wall at {LATENCY_MS} ms vs fetch_only"].measured == "1.050x"  # 8.4 / 8.0
    assert goals[f"tap wall at {LATENCY_MS} ms vs fetch_only"].status == "FAIL"
    assert goals[f"tap wall at {LATENCY_MS} ms vs default_sdk"].measured == "0.800x"  # 8.4 / 10.5
    assert goals[f"tap wall at {LATENCY_MS} ms vs default_sdk"].status == "PASS"
    assert goals["tap peak RSS at 1,000,000 vs 10,000"].status == "N/A"  # no scale runs
