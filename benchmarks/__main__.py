"""Benchmark tap-recotap and target-recotap against a local sandbox, in one run on one machine.

    .venv/bin/python -m benchmarks [--quick] [--only SECTION] [--records N] [--repeat R]

Runs every section in SECTIONS (each its own module: what it runs, and the goals it judges),
prints a table of every run and the goals, and writes the JSON: a full run (the defaults) to
benchmarks/results/<UTC timestamp>.json, the file the README's table is generated from; a
quick or partial run to benchmarks/results/scratch/ (git-ignored), marked as such.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import rate_limited, tap_side, target_side
from benchmarks import report as rep
from benchmarks.harness import PAGE_SIZE, Bench, Section

# In the order they run. A new section: its module's SECTION, one more line here.
SECTIONS: tuple[Section, ...] = (
    tap_side.SECTION,
    target_side.SECTION,
    rate_limited.SECTION,
)
RECORDS, QUICK_RECORDS = 100_000, 10_000
LATENCY_MS = 50
REPEAT = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RECORDS:,} records, one run each, no peak-RSS runs: a smoke check",
    )
    parser.add_argument(
        "--only", choices=[section.name for section in SECTIONS], help="run one section only"
    )
    parser.add_argument("--records", type=int, help=f"records per main run (default {RECORDS:,})")
    parser.add_argument(
        "--latency-ms", type=int, default=LATENCY_MS, help="added latency per request"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs of each program, without and with latency; CPU goals take each "
        f"program's lowest-CPU run, latency goals its fastest (default {REPEAT}, 1 with --quick)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        help=f"where the JSON goes (default: {rep.RESULTS_DIR.relative_to(rep.ROOT)}/ for a full "
        f"run, {rep.SCRATCH_DIR.relative_to(rep.ROOT)}/ otherwise)",
    )
    return parser.parse_args(argv)


def kind_of(args: argparse.Namespace) -> str:
    """`full` only for a run of every section at the default size, latency and repeats."""
    if args.quick:
        return rep.QUICK
    full = (
        args.only is None
        and args.records in (None, RECORDS)
        and args.latency_ms == LATENCY_MS
        and (args.repeat is None or args.repeat >= REPEAT)
    )
    return rep.FULL if full else rep.PARTIAL


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON; exit 0 when every run completed."""
    args = parse_args(argv)
    settings = {
        "records": args.records or (QUICK_RECORDS if args.quick else RECORDS),
        "latency_ms": args.latency_ms,
        "page_size": PAGE_SIZE,
        "scale": None if args.quick else list(rep.SCALE),
        "repeat": max(1, args.repeat or (1 if args.quick else REPEAT)),
        "only": args.only,
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
    }
    report = rep.Report(settings, kind=kind_of(args))
    chosen = [section for section in SECTIONS if args.only in (None, section.name)]
    with tempfile.TemporaryDirectory(prefix="recotap-bench-") as workdir:
        bench = Bench(report, Path(workdir))
        for section in chosen:
            section.measure(bench)
    report.finish()
    # Every section's goals, N/A where its runs were not made: the table always lists them all.
    report.goals = [goal for section in SECTIONS for goal in section.goals(report)]
    print(rep.render(report))
    default_dir = rep.RESULTS_DIR if report.kind == rep.FULL else rep.SCRATCH_DIR
    path = report.write_json(args.results_dir or default_dir)
    print(f"\nresults written to {path}")
    return 0 if all(run.ok or run.absent for run in report.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
