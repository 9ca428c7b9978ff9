"""The tap section: full syncs of the accounts stream, without and with latency, then memory.

Without latency (R times, interleaved so noise hits every program): `fetch_only`, `raw_tap`,
`tap-recotap`, `default_sdk`. At `--latency-ms` per request (R times, interleaved):
`fetch_only`, `tap-recotap`, `default_sdk`. Then `tap-recotap` alone at 10,000 and 1,000,000
accounts for peak RSS (not with --quick).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks import report as rep
from benchmarks.harness import (
    COMMANDS,
    DEFAULT_TAP,
    FETCH_ONLY,
    GET_ACCOUNTS,
    PAGE_SIZE,
    RAW_TAP,
    TAP,
    Bench,
    Section,
    available,
    last_line,
)
from recotap_sandbox.control import SandboxProcess

WITHOUT_LATENCY = (FETCH_ONLY, RAW_TAP, TAP, DEFAULT_TAP)
# Pages are sequential (each request needs the previous nextCursor), so at 50 ms the wall is
# mostly waiting: what the tap adds over just fetching is what its code controls.
WITH_LATENCY = (FETCH_ONLY, TAP, DEFAULT_TAP)
TAPS = (TAP, DEFAULT_TAP)  # the programs that need a catalog selecting only `accounts`


def measure(bench: Bench) -> None:
    """Every tap-side run."""
    records, latency = bench.settings["records"], bench.settings["latency_ms"]
    with bench.sandbox(records) as sandbox:
        config = bench.config(sandbox, "tap", page_size=PAGE_SIZE)
        catalog = _accounts_catalog(bench, config)
        for delay, programs in ((0, WITHOUT_LATENCY), (latency, WITH_LATENCY)):
            sandbox.admin.set_faults(latency_ms=delay)
            for _ in range(bench.settings["repeat"]):
                for program in programs:
                    _run(bench, sandbox, program, config, catalog, records=records, latency=delay)
        sandbox.admin.clear_faults()
        for size in bench.settings["scale"] or ():
            sandbox.admin.reset(seed_accounts=size, seed=1)
            _run(bench, sandbox, TAP, config, catalog, records=size, latency=0)


def goals(report: rep.Report) -> list[rep.Goal]:
    """Issue 17's tap goals, each a ratio of runs from this report."""
    latency = report.settings["latency_ms"]

    def fastest(program: str) -> rep.Run | None:
        return report.find("tap", program, latency_ms=latency, least="wall_s")

    return [
        rep.ratio_goal(
            f"tap CPU per record vs {RAW_TAP}",
            "<= 1.60x",
            report.find("tap", TAP),
            report.find("tap", RAW_TAP),
            of="cpu_s",
            passes=lambda ratio: ratio <= 1.6,
        ),
        rep.ratio_goal(
            f"tap wall at {latency} ms vs {FETCH_ONLY}",
            "<= 1.03x",
            fastest(TAP),
            fastest(FETCH_ONLY),
            of="wall_s",
            passes=lambda ratio: ratio <= 1.03,
        ),
        rep.ratio_goal(
            f"tap wall at {latency} ms vs {DEFAULT_TAP}",
            "< 1.00x (faster)",
            fastest(TAP),
            fastest(DEFAULT_TAP),
            of="wall_s",
            passes=lambda ratio: ratio < 1.0,
        ),
        rep.rss_growth(report, "tap", TAP),
    ]


SECTION = Section("tap", measure, goals)


def _run(
    bench: Bench,
    sandbox: SandboxProcess,
    program: str,
    config: Path,
    catalog: tuple[Path | None, str | None],
    *,
    records: int,
    latency: int,
) -> None:
    run = rep.Run("tap", program, records, latency)
    argv = bench.argv(program, config)
    if program in TAPS:
        path, error = catalog
        if path is None:  # without it the tap would sync every stream: not comparable
            run.error = error
        else:
            argv += ["--catalog", str(path)]
    bench.measure(run, sandbox, argv)
    if run.usage is not None:
        run.requests = bench.requests_since_run_start(sandbox, GET_ACCOUNTS)


def _accounts_catalog(bench: Bench, config: Path) -> tuple[Path | None, str | None]:
    """The tap's discovered catalog with only `accounts` selected, or why there is none.

    The other streams (segments, custom fields, unmapped accounts) would add requests the raw
    client does not make.
    """
    if not available(TAP):
        return None, None
    found = subprocess.run(
        [*COMMANDS[TAP][0], "--config", str(config), "--discover"],
        capture_output=True,
        check=False,
        cwd=bench.workdir,
        env=bench.env,
    )
    if found.returncode != 0:
        detail = last_line(found.stderr.decode("utf-8", "replace"))
        return None, f"tap-recotap --discover failed: {detail}"
    catalog = json.loads(found.stdout)
    for stream in catalog["streams"]:
        for entry in stream.get("metadata", []):
            if not entry.get("breadcrumb"):
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "accounts"
    path = bench.workdir / "catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")
    return path, None
