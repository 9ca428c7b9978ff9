"""Results of one benchmark run: machine facts, runs, goals, the printed table and the JSON file.

Program names and goals belong to the sections (`benchmarks/tap_side.py`, ...); this module
knows only runs, ratios and how to write them down.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.measure import Usage

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"  # full runs: committed, the README's source
SCRATCH_DIR = RESULTS_DIR / "scratch"  # quick and partial runs: git-ignored
PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "N/A"
# What a results file is: "full" (every section at the default size: the README's table comes
# from the newest one), "quick" (--quick), "partial" (--only, other sizes or latency).
FULL, QUICK, PARTIAL = "full", "quick", "partial"
SCALE = (10_000, 1_000_000)  # the peak-RSS runs: memory at the big size vs the small one


@dataclass
class Run:
    """One measured program run and what the sandbox saw during it."""

    side: str  # "tap" or "target"
    program: str
    records: int
    latency_ms: int
    usage: Usage | None = None  # None: not run (absent, or could not be prepared)
    absent: bool = False  # the program is not installed / not written yet
    server_cpu_s: float | None = None
    requests: int | None = None  # GET /accounts (tap side) or POST /accounts (target side)
    items_sent: int | None = None  # target side: accounts the sandbox received
    load_1m: float | None = None  # machine load average as the run started (shared machine)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The program ran and exited 0 (and, for targets, delivered every account)."""
        return self.usage is not None and self.usage.returncode == 0 and self.error is None

    def as_json(self) -> dict[str, Any]:
        """The run as plain JSON data (CPU and memory of the measured child process)."""
        data = {k: v for k, v in asdict(self).items() if k != "usage"}
        if self.usage is not None:
            usage = asdict(self.usage)
            usage["cpu_s"] = self.usage.cpu_s
            usage.pop("stderr_tail")
            data.update(usage)
        data["ok"] = self.ok
        return data


@dataclass
class Goal:
    """A target the plugins should meet, evaluated on ratios taken in this same run."""

    name: str
    limit: str
    measured: str = "-"
    status: str = NOT_MEASURED
    detail: str = ""
    value: float | None = None  # the measured ratio, unrounded


@dataclass
class Report:
    """Everything one `python -m benchmarks` run produces."""

    settings: dict[str, Any]
    kind: str = PARTIAL
    machine: dict[str, Any] = field(default_factory=lambda: machine_facts())  # noqa: PLW0108 (defined below)
    runs: list[Run] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    # Rows of sections whose runs are not plain program runs (name -> rows), and their text.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    def find(
        self,
        side: str,
        program: str,
        *,
        latency_ms: int = 0,
        records: int | None = None,
        least: Literal["cpu_s", "wall_s"] = "cpu_s",
    ) -> Run | None:
        """The successful run matching the arguments (records default: the main size).

        Of repeated runs, the one with the `least` CPU (or wall time): like `timeit`'s minimum,
        the run least disturbed by the rest of the machine, whose noise only ever adds time
        (every run is still in the table and the JSON).
        """
        wanted = self.settings["records"] if records is None else records
        matching = [
            run
            for run in self.runs
            if (run.side, run.program, run.latency_ms, run.records)
            == (side, program, latency_ms, wanted)
            and run.ok
            and run.usage is not None
        ]
        return min(
            matching, key=lambda run: getattr(run.usage, least) if run.usage else 0.0, default=None
        )

    def finish(self) -> None:
        """Note the machine's load at the end (the start's is taken with the machine facts)."""
        self.machine["load_avg_end"] = _load_average()

    def as_json(self) -> dict[str, Any]:
        """The whole report as JSON data."""
        return {
            "kind": self.kind,
            "machine": self.machine,
            "settings": self.settings,
            "runs": [run.as_json() for run in self.runs],
            "goals": [asdict(goal) for goal in self.goals],
            "tables": self.tables,
        }

    def write_json(self, directory: Path) -> Path:
        """Write `<directory>/<UTC timestamp>[-quick|-partial].json`; return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        suffix = "" if self.kind == FULL else f"-{self.kind}"
        path = directory / f"{stamp}{suffix}.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        return path


# --- goals -----------------------------------------------------------------------------------


def ratio_goal(
    name: str,
    limit: str,
    top: Run | None,
    bottom: Run | None,
    *,
    of: Literal["cpu_s", "wall_s"],
    passes: Callable[[float], bool],
) -> Goal:
    """A goal judged on `top`'s CPU or wall divided by `bottom`'s; N/A if either run is missing.

    The detail names both programs and their seconds, so the ratio can be checked by hand.
    """
    goal = Goal(name, limit)
    if top and bottom and top.usage and bottom.usage:
        above, below = getattr(top.usage, of), getattr(bottom.usage, of)
        judge(goal, above / below, passed=passes(above / below))
        what = "CPU" if of == "cpu_s" else "wall"
        goal.detail = f"{what}: {top.program} {above:.2f} s / {bottom.program} {below:.2f} s"
    return goal


def rss_growth(report: Report, side: str, program: str) -> Goal:
    """Peak RSS of `program` at the biggest vs the smallest scale run: memory must stay flat."""
    small, big = report.settings.get("scale") or SCALE
    goal = Goal(f"{side} peak RSS at {big:,} vs {small:,}", "<= 1.10x")
    low = report.find(side, program, records=small)
    high = report.find(side, program, records=big)
    if low and high and low.usage and high.usage:
        ratio = high.usage.max_rss_kib / low.usage.max_rss_kib
        judge(goal, ratio, passed=ratio <= 1.10)
        goal.detail = f"{_mib(low.usage.max_rss_kib)} -> {_mib(high.usage.max_rss_kib)} MiB"
    return goal


def judge(goal: Goal, ratio: float, *, passed: bool) -> None:
    """Record a measured ratio and its verdict on `goal`."""
    goal.value = ratio
    goal.measured = f"{ratio:.3f}x"  # three decimals: 1.031 must not read as 1.03
    goal.status = PASS if passed else FAIL


# --- printing --------------------------------------------------------------------------------

_COLUMNS = (
    ("side", 6),
    ("program", 14),
    ("records", 9),
    ("latency", 7),
    ("wall s", 8),
    ("CPU s", 8),
    ("CPU us/rec", 10),
    ("RSS MiB", 8),
    ("srv CPU s", 9),
    ("srv %wall", 9),
    ("requests", 8),
    ("load", 5),
    ("result", 6),
)


def render(report: Report) -> str:
    """The human-readable report: machine facts, one row per run, then the goals."""
    lines = [f"{key}: {value}" for key, value in report.machine.items()]
    lines.append(f"kind: {report.kind}")
    lines.append("")
    lines.append(_row([name for name, _ in _COLUMNS]))
    lines.append(_row(["-" * width for _, width in _COLUMNS]))
    lines.extend(_row(_cells(run)) for run in report.runs)
    errors = [run for run in report.runs if run.error]
    lines.extend(f"  ! {run.side} {run.program} ({run.records:,}): {run.error}" for run in errors)
    for text in report.texts:
        lines.extend(["", text])
    lines.append("")
    lines.append(f"{'goal':46} {'limit':24} {'measured':22} result")
    for goal in report.goals:
        detail = f"  ({goal.detail})" if goal.detail else ""
        lines.append(f"{goal.name:46} {goal.limit:24} {goal.measured:22} {goal.status}{detail}")
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return " ".join(
        cell.ljust(width) if index < 2 else cell.rjust(width)
        for index, (cell, (_, width)) in enumerate(zip(cells, _COLUMNS, strict=True))
    )


def _cells(run: Run) -> list[str]:
    usage = run.usage
    head = [run.side, run.program, f"{run.records:,}", f"{run.latency_ms} ms"]
    if usage is None:
        return [*head, *["-"] * 8, "absent" if run.absent else "FAILED"]
    share = f"{100 * run.server_cpu_s / usage.wall_s:.0f}%" if run.server_cpu_s is not None else "-"
    return [
        *head,
        f"{usage.wall_s:.2f}",
        f"{usage.cpu_s:.2f}",
        f"{1e6 * usage.cpu_s / max(run.records, 1):.1f}",
        _mib(usage.max_rss_kib),
        "-" if run.server_cpu_s is None else f"{run.server_cpu_s:.2f}",
        share,
        "-" if run.requests is None else str(run.requests),
        "-" if run.load_1m is None else f"{run.load_1m:.1f}",
        "ok" if run.ok else "FAILED",
    ]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


# --- machine facts ---------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, memory, Python, singer-sdk, git commit, date and load of this run."""
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_avg_start": _load_average(),
        "cpu": _cpuinfo("model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(_meminfo_kib("MemTotal") / 1024**2, 1),
        "python": platform.python_version(),
        "singer_sdk": _version("singer-sdk"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(
            _git(
                "status",
                "--porcelain",
                "--",
                "recotap_client",
                "recotap_plugin_common",
                "tap_recotap",
                "target_recotap",
                "recotap_sandbox",
                "benchmarks",
            )
        ),
    }


def _load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages: above the core count, other work competed."""
    return [round(load, 2) for load in os.getloadavg()]


def _cpuinfo(key: str) -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else "unknown"
