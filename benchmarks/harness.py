"""What every benchmark section shares: the programs, sandboxes, configs and one measured run.

A section (`Section`) is one part of the benchmark: it makes its runs through a `Bench` and
judges its own goals from the finished report. `benchmarks/__main__.py` lists the sections;
adding one is a new module with a `SECTION` and one line in that list.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import report as rep
from benchmarks.measure import process_cpu_seconds, run_measured
from recotap_sandbox.control import SandboxProcess

if TYPE_CHECKING:
    from collections.abc import Callable

API_KEY = "bench-key"
PAGE_SIZE = 100
GET_ACCOUNTS, POST_ACCOUNTS = "GET /api/v1/accounts", "POST /api/v1/accounts"

# The measured programs, by the name the table and the JSON give them.
FETCH_ONLY = "fetch_only"  # requests + json over every page, no output: fetching alone
RAW_TAP = "raw_tap"  # requests + json, Singer messages out: the hand-written floor
TAP = "tap-recotap"
DEFAULT_TAP = "default_sdk"  # the tap with the SDK's defaults (no read-ahead)
RAW_TARGET = "raw_target"  # sequential batches of 100, requests + json
TARGET = "target-recotap"

_BIN = Path(sys.executable).parent
_PYTHON_M = [sys.executable, "-m"]
# program -> (command before "--config", module that must be importable for it to exist)
COMMANDS: dict[str, tuple[list[str], str]] = {
    FETCH_ONLY: ([*_PYTHON_M, "benchmarks.raw_tap", "--fetch-only"], "benchmarks.raw_tap"),
    RAW_TAP: ([*_PYTHON_M, "benchmarks.raw_tap"], "benchmarks.raw_tap"),
    TAP: ([str(_BIN / "tap-recotap")], "tap_recotap.tap"),
    DEFAULT_TAP: ([*_PYTHON_M, "benchmarks.default_sdk_tap"], "benchmarks.default_sdk_tap"),
    RAW_TARGET: ([*_PYTHON_M, "benchmarks.raw_target"], "benchmarks.raw_target"),
    TARGET: ([str(_BIN / "target-recotap")], "target_recotap.target"),
}


@dataclass(frozen=True)
class Section:
    """One part of the benchmark: its runs, and the goals judged on them."""

    name: str  # what `--only` selects
    measure: Callable[[Bench], None]
    goals: Callable[[rep.Report], list[rep.Goal]]


class Bench:
    """Runs measured programs against sandboxes and collects the runs into a report."""

    def __init__(self, report: rep.Report, workdir: Path) -> None:
        self.report = report
        self.settings = report.settings
        self.workdir = workdir
        # Children import `benchmarks` from the checkout but run in the scratch directory.
        self.env = {**os.environ, "PYTHONPATH": str(rep.ROOT)}
        self._baseline_stats: dict[str, Any] = {}

    def sandbox(self, accounts: int) -> SandboxProcess:
        """A fresh sandbox seeded with `accounts` accounts (use it as a context manager)."""
        return SandboxProcess(
            api_key=API_KEY, args=["--seed-accounts", str(accounts)], start_timeout=300
        )

    def config(self, sandbox: SandboxProcess, name: str, **settings: Any) -> Path:
        """Write a plugin config for `sandbox` (plus `settings`) to `<name>-config.json`."""
        path = self.workdir / f"{name}-config.json"
        config = {"api_key": API_KEY, "api_url": sandbox.api_url, **settings}
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    def argv(self, program: str, config: Path) -> list[str]:
        """The command line of `program` with `config`."""
        return [*COMMANDS[program][0], "--config", str(config)]

    def measure(
        self,
        run: rep.Run,
        sandbox: SandboxProcess,
        argv: list[str],
        stdin: Path | None = None,
    ) -> None:
        """Run one program as its own process; note its usage and the sandbox's CPU meanwhile.

        The run is added to the report whatever happens; it is not started when its program
        is absent or `run.error` is already set (it could not be prepared).
        """
        self.report.runs.append(run)
        run.absent = not available(run.program)
        if run.absent or run.error:
            return
        print(
            f"  {run.side} {run.program}, {run.records:,} records, {run.latency_ms} ms ...",
            file=sys.stderr,
            flush=True,
        )
        run.load_1m = os.getloadavg()[0]
        self._baseline_stats = sandbox.admin.stats()
        server_before = process_cpu_seconds(sandbox.process.pid)
        run.usage = run_measured(argv, stdin_path=stdin, env=self.env, cwd=self.workdir)
        run.server_cpu_s = process_cpu_seconds(sandbox.process.pid) - server_before
        if run.usage.returncode != 0:
            run.error = f"exit {run.usage.returncode}: {last_line(run.usage.stderr_tail)}"

    def requests_since_run_start(self, sandbox: SandboxProcess, route: str) -> int:
        """Requests to `route` (e.g. `GET_ACCOUNTS`) since the last measured run started."""
        after = sandbox.admin.stats()["requests"].get(route, 0)
        return int(after - self._baseline_stats["requests"].get(route, 0))


def available(program: str) -> bool:
    """Whether `program` can run here (its module is installed / written)."""
    module = COMMANDS[program][1] if program in COMMANDS else None
    if module is None:
        return True  # a section's own program, not in the shared registry
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def last_line(text: str) -> str:
    """The last non-blank line of a program's stderr, for the table's error notes."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output on stderr"
