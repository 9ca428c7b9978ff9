"""Results of one benchmark run: machine facts, the goals, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
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
PASS, FAIL, NOT_MEASURED = "PASS", "FAIL", "N/A"

RAW_TAP, SANDBOX_ONLY, TAP, DEFAULT_TAP = "raw_tap", "sandbox only", "tap-recotap", "default_sdk"
RAW_TARGET, TARGET = "raw_target", "target-recotap"


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


@dataclass
class Report:
    """Everything one `python -m benchmarks` run produces."""

    settings: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=lambda: machine_facts())  # noqa: PLW0108 (defined below)
    runs: list[Run] = field(default_factory=list)

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

    def goals(self) -> list[Goal]:
        """Every goal of issue 7, PASS/FAIL or N/A when a run it needs is missing or failed."""
        return [goal(self) for goal in _GOALS]

    def as_json(self) -> dict[str, Any]:
        """The whole report as JSON data."""
        return {
            "machine": self.machine,
            "settings": self.settings,
            "runs": [run.as_json() for run in self.runs],
            "goals": [asdict(goal) for goal in self.goals()],
        }

    def write_json(self, directory: Path) -> Path:
        """Write `<directory>/<UTC timestamp>.json`; return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"{stamp}.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        return path


# --- goals -----------------------------------------------------------------------------------


def _cpu_ratio(report: Report, side: str, program: str, raw: str) -> Goal:
    goal = Goal(f"{side} CPU per record vs {raw}", "<= 1.50x")
    plugin, baseline = report.find(side, program), report.find(side, raw)
    if plugin and baseline and plugin.usage and baseline.usage:
        ratio = plugin.usage.cpu_s / baseline.usage.cpu_s
        _judge(goal, ratio, passed=ratio <= 1.5)
    return goal


def _tap_cpu(report: Report) -> Goal:
    return _cpu_ratio(report, "tap", TAP, RAW_TAP)


def _target_cpu(report: Report) -> Goal:
    return _cpu_ratio(report, "target", TARGET, RAW_TARGET)


def _tap_latency(report: Report) -> Goal:
    latency = report.settings["latency_ms"]
    goal = Goal(f"tap wall at {latency} ms vs pages x latency", "<= 1.05x")
    run = report.find("tap", TAP, latency_ms=latency, least="wall_s")
    if run and run.usage:
        pages = math.ceil(run.records / report.settings["page_size"])
        ideal = pages * latency / 1000
        ratio = run.usage.wall_s / ideal
        _judge(goal, ratio, passed=ratio <= 1.05)
        goal.detail = f"{pages} pages x {latency} ms = {ideal:.1f} s"
        fetch_only = report.find("tap", SANDBOX_ONLY, latency_ms=latency, least="wall_s")
        if fetch_only and fetch_only.usage:
            goal.detail += f"; fetch-only client: {fetch_only.usage.wall_s / ideal:.3f}x"
    return goal


def _target_posts(report: Report) -> Goal:
    goal = Goal("target POSTs = ceil(N / 100)", "exact, every target run")
    runs = [run for run in report.runs if run.program == TARGET and run.usage is not None]
    if runs and all(run.requests is not None for run in runs):
        expected = [math.ceil(run.records / 100) for run in runs]
        goal.measured = ", ".join(
            f"{run.requests}/{want}" for run, want in zip(runs, expected, strict=True)
        )
        exact = all(run.requests == want for run, want in zip(runs, expected, strict=True))
        goal.status = PASS if exact else FAIL
    return goal


def _target_latency(report: Report) -> Goal:
    latency = report.settings["latency_ms"]
    goal = Goal(f"target speed-up over raw loop at {latency} ms", ">= 3.50x")
    plugin = report.find("target", TARGET, latency_ms=latency, least="wall_s")
    baseline = report.find("target", RAW_TARGET, latency_ms=latency, least="wall_s")
    if plugin and baseline and plugin.usage and baseline.usage:
        speedup = baseline.usage.wall_s / plugin.usage.wall_s
        _judge(goal, speedup, passed=speedup >= 3.5)
    return goal


def _rss_growth(side: str, program: str) -> Callable[[Report], Goal]:
    def judge(report: Report) -> Goal:
        small, big = report.settings["scale"] or (10_000, 1_000_000)
        goal = Goal(f"{side} peak RSS at {big:,} vs {small:,}", "<= 1.10x")
        low = report.find(side, program, records=small)
        high = report.find(side, program, records=big)
        if low and high and low.usage and high.usage:
            ratio = high.usage.max_rss_kib / low.usage.max_rss_kib
            _judge(goal, ratio, passed=ratio <= 1.10)
            goal.detail = f"{_mib(low.usage.max_rss_kib)} -> {_mib(high.usage.max_rss_kib)} MiB"
        return goal

    return judge


def _judge(goal: Goal, ratio: float, *, passed: bool) -> None:
    goal.measured = f"{ratio:.3f}x"  # three decimals: 1.051 must not read as 1.05
    goal.status = PASS if passed else FAIL


_GOALS: tuple[Callable[[Report], Goal], ...] = (
    _tap_cpu,
    _tap_latency,
    _target_cpu,
    _target_posts,
    _target_latency,
    _rss_growth("tap", TAP),
    _rss_growth("target", TARGET),
)

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
    lines.append("")
    lines.append(_row([name for name, _ in _COLUMNS]))
    lines.append(_row(["-" * width for _, width in _COLUMNS]))
    lines.extend(_row(_cells(run)) for run in report.runs)
    errors = [run for run in report.runs if run.error]
    lines.extend(f"  ! {run.side} {run.program} ({run.records:,}): {run.error}" for run in errors)
    lines.append("")
    lines.append(f"{'goal':46} {'limit':24} {'measured':22} result")
    for goal in report.goals():
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
    """CPU model, cores, memory, Python, singer-sdk, git commit and date of this run."""
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
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
                "tap_recotap",
                "target_recotap",
                "recotap_sandbox",
                "benchmarks",
            )
        ),
    }


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
