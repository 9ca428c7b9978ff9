"""Benchmark tap-recotap and target-recotap against a local sandbox, in one run on one machine.

    .venv/bin/python -m benchmarks [--quick] [--only tap|target] [--records N] [--repeat R]

Tap side: a full sync of N accounts (sandbox alone, the raw client, the tap, the tap with the
SDK's default writer and conformance), R times, then R times again with added latency per
request (all but the default tap). Target side: a push of N distinct accounts from a prepared
Singer file (raw loop, target), R times, then R times again with latency. Runs of the same
setting are interleaved, so that noise hits every program. Then peak RSS at 10,000 vs
1,000,000 records for tap and target (not with --quick).
Prints a table and the goals, and writes benchmarks/results/<UTC timestamp>.json.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import rate_limited
from benchmarks import report as rep
from benchmarks.data import write_singer_file
from benchmarks.measure import process_cpu_seconds, run_measured
from recotap_sandbox.control import SandboxProcess

API_KEY = "bench-key"
PAGE_SIZE = 100
GET_ACCOUNTS, POST_ACCOUNTS = "GET /api/v1/accounts", "POST /api/v1/accounts"
BIN = Path(sys.executable).parent
PYTHON_M = [sys.executable, "-m"]
# program -> (command before "--config", module that must be importable for it to exist)
COMMANDS: dict[str, tuple[list[str], str]] = {
    rep.SANDBOX_ONLY: ([*PYTHON_M, "benchmarks.raw_tap", "--fetch-only"], "benchmarks.raw_tap"),
    rep.RAW_TAP: ([*PYTHON_M, "benchmarks.raw_tap"], "benchmarks.raw_tap"),
    rep.TAP: ([str(BIN / "tap-recotap")], "tap_recotap.tap"),
    rep.DEFAULT_TAP: ([*PYTHON_M, "benchmarks.default_sdk_tap"], "tap_recotap.tap"),
    rep.RAW_TARGET: ([*PYTHON_M, "benchmarks.raw_target"], "benchmarks.raw_target"),
    rep.TARGET: ([str(BIN / "target-recotap")], "target_recotap.target"),
}


class Bench:
    """Runs the measured programs against sandboxes and collects the runs into a report."""

    def __init__(self, report: rep.Report, workdir: Path) -> None:
        self.report = report
        self.settings = report.settings
        self.workdir = workdir
        # Children import `benchmarks` from the checkout but run in the scratch directory.
        self.env = {**os.environ, "PYTHONPATH": str(rep.ROOT)}
        self._baseline_stats: dict[str, Any] = {}
        self._catalog_error: str | None = None

    # --- tap side ------------------------------------------------------------------------------

    def tap_side(self) -> None:
        """Full syncs of the accounts stream, without and with latency, then the RSS scale."""
        records, latency = self.settings["records"], self.settings["latency_ms"]
        with self._sandbox(records) as sandbox:
            config = self._config(sandbox, "tap", page_size=PAGE_SIZE)
            catalog = self._accounts_catalog(config)
            programs = (rep.SANDBOX_ONLY, rep.RAW_TAP, rep.TAP, rep.DEFAULT_TAP)
            for _ in range(self.settings["repeat"]):  # interleaved: noise hits every program
                for program in programs:
                    self._tap_run(sandbox, program, config, catalog, records=records, latency=0)
            sandbox.admin.set_faults(latency_ms=latency)
            # The fetch-only client at the same latency: what requests and json alone need per
            # page, pages being sequential (each request needs the previous nextCursor).
            for _ in range(self.settings["repeat"]):
                for program in (rep.SANDBOX_ONLY, rep.RAW_TAP, rep.TAP):
                    self._tap_run(
                        sandbox, program, config, catalog, records=records, latency=latency
                    )
            sandbox.admin.clear_faults()
            for size in self.settings["scale"] or ():
                sandbox.admin.reset(seed_accounts=size, seed=1)
                self._tap_run(sandbox, rep.TAP, config, catalog, records=size, latency=0)

    def _tap_run(
        self,
        sandbox: SandboxProcess,
        program: str,
        config: Path,
        catalog: Path | None,
        *,
        records: int,
        latency: int,
    ) -> None:
        run = rep.Run("tap", program, records, latency)
        argv = self._argv(program, config)
        if program in (rep.TAP, rep.DEFAULT_TAP):
            if catalog is None:  # without it the tap would sync every stream: not comparable
                run.error = self._catalog_error
            else:
                argv += ["--catalog", str(catalog)]
        self._measure(run, sandbox, program, argv, None)
        if run.usage is not None:
            run.requests = self._count(sandbox, GET_ACCOUNTS)

    def _accounts_catalog(self, config: Path) -> Path | None:
        """The tap's discovered catalog with only `accounts` selected; None if discovery failed.

        The other streams (segments, custom fields, unmapped accounts) would add requests the
        raw client does not make.
        """
        if not _available(rep.TAP):
            return None
        found = subprocess.run(
            [*COMMANDS[rep.TAP][0], "--config", str(config), "--discover"],
            capture_output=True,
            check=False,
            cwd=self.workdir,
            env=self.env,
        )
        if found.returncode != 0:
            detail = _last_line(found.stderr.decode("utf-8", "replace"))
            self._catalog_error = f"tap-recotap --discover failed: {detail}"
            return None
        catalog = json.loads(found.stdout)
        for stream in catalog["streams"]:
            for entry in stream.get("metadata", []):
                if not entry.get("breadcrumb"):
                    entry["metadata"]["selected"] = stream["tap_stream_id"] == "accounts"
        path = self.workdir / "catalog.json"
        path.write_text(json.dumps(catalog), encoding="utf-8")
        return path

    # --- target side ---------------------------------------------------------------------------

    def target_side(self) -> None:
        """Pushes of N distinct accounts into an empty workspace, without and with latency."""
        records, latency = self.settings["records"], self.settings["latency_ms"]
        with self._sandbox(0) as sandbox:
            config = self._config(sandbox, "target", upsert=True)
            singer_file = write_singer_file(self.workdir / f"accounts-{records}.singer", records)
            for delay in (0, latency):
                sandbox.admin.set_faults(latency_ms=delay)
                for _ in range(self.settings["repeat"]):
                    for program in (rep.RAW_TARGET, rep.TARGET):
                        self._target_run(
                            sandbox, program, config, singer_file, records=records, latency=delay
                        )
            sandbox.admin.clear_faults()
            for size in self.settings["scale"] or ():
                path = write_singer_file(self.workdir / f"accounts-{size}.singer", size)
                self._target_run(sandbox, rep.TARGET, config, path, records=size, latency=0)
                path.unlink()

    def _target_run(
        self,
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
        self._measure(run, sandbox, program, self._argv(program, config), singer_file)
        if run.usage is None:
            return
        stats = sandbox.admin.stats()
        run.requests = stats["requests"].get(POST_ACCOUNTS, 0)
        run.items_sent = sum(stats["batch_sizes"].get(POST_ACCOUNTS, []))
        if run.usage.returncode == 0 and run.items_sent != records:
            run.error = f"the sandbox received {run.items_sent} accounts, not {records}"

    # --- shared --------------------------------------------------------------------------------

    def _measure(
        self,
        run: rep.Run,
        sandbox: SandboxProcess,
        program: str,
        argv: list[str],
        stdin: Path | None,
    ) -> None:
        """Run one program as its own process; note its usage and the sandbox's CPU meanwhile."""
        self.report.runs.append(run)
        run.absent = not _available(program)
        if run.absent or run.error:
            return
        print(
            f"  {run.side} {program}, {run.records:,} records, {run.latency_ms} ms ...",
            file=sys.stderr,
            flush=True,
        )
        run.load_1m = os.getloadavg()[0]
        self._baseline_stats = sandbox.admin.stats()
        server_before = process_cpu_seconds(sandbox.process.pid)
        run.usage = run_measured(argv, stdin_path=stdin, env=self.env, cwd=self.workdir)
        run.server_cpu_s = process_cpu_seconds(sandbox.process.pid) - server_before
        if run.usage.returncode != 0:
            run.error = f"exit {run.usage.returncode}: {_last_line(run.usage.stderr_tail)}"

    def _count(self, sandbox: SandboxProcess, route: str) -> int:
        """Requests to `route` since the current run started."""
        after = sandbox.admin.stats()["requests"].get(route, 0)
        return int(after - self._baseline_stats["requests"].get(route, 0))

    def _argv(self, program: str, config: Path) -> list[str]:
        return [*COMMANDS[program][0], "--config", str(config)]

    def _sandbox(self, accounts: int) -> SandboxProcess:
        return SandboxProcess(
            api_key=API_KEY, args=["--seed-accounts", str(accounts)], start_timeout=300
        )

    def _config(self, sandbox: SandboxProcess, side: str, **settings: Any) -> Path:
        path = self.workdir / f"{side}-config.json"
        config = {"api_key": API_KEY, "api_url": sandbox.api_url, **settings}
        path.write_text(json.dumps(config), encoding="utf-8")
        return path


def _available(program: str) -> bool:
    module = COMMANDS[program][1]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output on stderr"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10,000 records and no 1,000,000-record run: a smoke check",
    )
    parser.add_argument("--only", choices=("tap", "target"), help="measure one side only")
    parser.add_argument("--records", type=int, help="records per main run (default 100,000)")
    parser.add_argument("--latency-ms", type=int, default=50, help="added latency per request")
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs of each program, without and with latency; CPU goals take each "
        "program's lowest-CPU run, latency goals its fastest (default 3, 1 with --quick)",
    )
    parser.add_argument("--results-dir", type=Path, default=rep.ROOT / "benchmarks" / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON; exit 0 when every run completed."""
    args = parse_args(argv)
    settings = {
        "records": args.records or (10_000 if args.quick else 100_000),
        "latency_ms": args.latency_ms,
        "page_size": PAGE_SIZE,
        "scale": None if args.quick else [10_000, 1_000_000],
        "repeat": max(1, args.repeat or (1 if args.quick else 3)),
        "only": args.only,
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
    }
    report = rep.Report(settings)
    with tempfile.TemporaryDirectory(prefix="recotap-bench-") as workdir:
        bench = Bench(report, Path(workdir))
        if args.only in (None, "tap"):
            bench.tap_side()
        if args.only in (None, "target"):
            bench.target_side()
        # Issue 18's rows (benchmarks/rate_limited.py): pushes against a rate-limited sandbox.
        limited = (
            rate_limited.rows(20_000, args.latency_ms, [10.0, 60.0, None], Path(workdir))
            if args.only in (None, "target")
            else []
        )
    print(rep.render(report))
    path = report.write_json(args.results_dir)
    print(f"\nresults written to {path}")
    if limited:
        print("\n" + rate_limited.render(limited))
        extra = path.with_name(f"{path.stem}-rate-limited.json")
        extra.write_text(json.dumps(rate_limited.as_json(limited), indent=2) + "\n")
        print(f"\nrate-limited rows written to {extra}")
    ok = all(run.ok or run.absent for run in report.runs)
    return 0 if ok and all(row.error is None for row in limited) else 1


if __name__ == "__main__":
    sys.exit(main())
