#!/usr/bin/env python3
"""Project entry points that need nothing but python3 and the package index.

    python3 run.py test   # lint, type-check and run the whole test suite
    python3 run.py demo   # the main job: start a local sandbox and run the pipeline against it
    python3 run.py bench  # the benchmark (about 15 minutes; --quick for a smoke run)
    python3 run.py mutate [MODULE ...]  # mutation testing of the modules that hold the promises
                                        # (docs/mutation.md; slow, not run by `test` nor in CI)

Each command first makes (or refreshes) the project's virtualenv in .venv, installing this
project with its dev extras; the install is skipped when pyproject.toml has not changed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-pyproject-sha256"
MIN_PYTHON = (3, 11)  # pyproject.toml's requires-python


def ensure_venv() -> None:
    """Create .venv and install the project into it unless it is already current."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating virtualenv .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its dev tools into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*command: str) -> None:
    """Run a tool from the virtualenv in the project root; stop on failure."""
    print("+", " ".join(command), flush=True)
    result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def test(extra: list[str]) -> None:
    """Lint, type-check and run every test (the long-marked ones too)."""
    run("ruff", "check", ".")
    run("ruff", "format", "--check", ".")
    run(
        "mypy",
        "recotap_client",
        "recotap_plugin_common",
        "tap_recotap",
        "target_recotap",
        "recotap_sandbox",
        "scripts",
        "demo",
        "benchmarks",
    )
    run("pytest", "-n", "2", "--dist", "loadgroup", *extra)


def demo(extra: list[str]) -> None:
    """Run the main job against a local sandbox."""
    run("python", "demo/demo.py", *extra)


def bench(extra: list[str]) -> None:
    """Measure tap and target against raw clients (docs/benchmarks.md)."""
    run("python", "-m", "benchmarks", *extra)


# Each module that holds a promise, with the tests that guard it (mutmut runs, for each mutant,
# only those of these tests that call the mutated function in the pytest process).
MUTATION_TARGETS: dict[str, tuple[str, list[str]]] = {
    "retry": (
        "recotap_client/retry.py",
        [
            "tests/test_http_policy.py",
            "tests/test_retry_mutation_gaps.py",
            "tests/tap/test_tap_errors.py",
            "tests/hostile",
        ],
    ),
    "answers": (
        "recotap_client/answers.py",
        [
            "tests/client/test_answers.py",
            "tests/test_http_policy.py",
            "tests/tap/test_tap_errors.py",
            "tests/hostile",
        ],
    ),
    "session": (
        "recotap_client/session.py",
        [
            "tests/client",
            "tests/test_http_policy.py",
            "tests/target/test_target_reliability.py",
            "tests/hostile",
        ],
    ),
    "paging": (
        "recotap_client/paging.py",
        [
            "tests/client/test_paging.py",
            "tests/tap/test_tap_pagination.py",
            "tests/tap/test_tap_page_reading.py",
            "tests/hostile",
        ],
    ),
    "in_flight": (
        "target_recotap/in_flight.py",
        [
            "tests/target/test_target_in_flight.py",
            "tests/target/test_in_flight_mutation_gaps.py",
            "tests/property",
        ],
    ),
    "validation": (
        "target_recotap/validation.py",
        [
            "tests/target/test_target_validation.py",
            "tests/target/test_target_accounts.py",
            "tests/target/test_target_streams.py",
            "tests/target/test_target_mutation_gaps.py",
            "tests/target/test_validation_mutation_gaps.py",
            "tests/property",
        ],
    ),
    "failures": (
        "target_recotap/failures.py",
        [
            "tests/target/test_target_cli.py",
            "tests/target/test_target_accounts.py",
            "tests/target/test_target_failed_records_file.py",
            "tests/target/test_target_mutation_gaps.py",
            "tests/property",
        ],
    ),
    # The one override of the SDK's STATE step: the tests that build TargetRecotap in the
    # pytest process and look at the STATE it emits (mutmut credits no test with what a
    # `target-recotap` process does).
    "state": (
        "target_recotap/sdk_seams.py",
        [
            "tests/target/test_state_emission_mutation_gaps.py",
            "tests/target/test_target_in_flight.py",
            "tests/target/test_target_mutation_gaps.py",
            "tests/property",
        ],
    ),
    "target": (
        "target_recotap/target.py",
        [
            "tests/target/test_state_emission_mutation_gaps.py",
            "tests/target/test_target_in_flight.py",
            # Its in-process STATE test only: the others start processes (no credit), and one
            # of them can fail under load (two batches in flight, either may get the one "ok").
            "tests/target/test_target_reliability.py"
            "::test_state_is_emitted_once_everything_before_it_was_confirmed",
            "tests/target/test_target_mutation_gaps.py",
            "tests/target/test_target_start_mutation_gaps.py",
            "tests/target/test_in_flight_mutation_gaps.py",
            # The in-process tests of the settings `_start_run` reads (upsert, nulls, streams).
            "tests/target/test_target_accounts.py",
            "tests/target/test_target_nulls.py",
            "tests/target/test_target_streams.py",
            "tests/property",
        ],
    ),
    # `validate_records` (the SDK's JSON-schema check, refusing a record instead of raising):
    # only the `SchemaCheck` class of base_sink.py (see ONLY_MUTANTS).
    "schema_check": (
        "target_recotap/base_sink.py",
        [
            "tests/target/test_schema_check_mutation_gaps.py",
            "tests/target/test_target_cli.py",
        ],
    ),
    # The tap's bookmark (issue 14 item 4): `AccountsStream` and the time helpers of streams.py
    # (see ONLY_MUTANTS). test_tap_clock.py runs `tap-recotap` as a process (no credit);
    # test_tap_state_mutation_gaps.py checks the same promises in the test process.
    "tap_state": (
        "tap_recotap/streams.py",
        [
            "tests/tap/test_tap_state_mutation_gaps.py",
            "tests/tap/test_tap_incremental.py",
            "tests/tap/test_tap_pagination.py",
            "tests/tap/test_tap_page_reading.py",
            "tests/hostile/test_tap_clock.py",
        ],
    ),
}
# Modules mutated only in part: the mutant names (fnmatch patterns) that are run and scored.
ONLY_MUTANTS: dict[str, tuple[str, ...]] = {
    "schema_check": ("target_recotap.base_sink.xǁSchemaCheckǁ*",),
    "tap_state": (
        "tap_recotap.streams.xǁAccountsStreamǁ*",
        "tap_recotap.streams.x_format_last_sync__mutmut_*",
        "tap_recotap.streams.x__isoformat__mutmut_*",
        "tap_recotap.streams.x__duration__mutmut_*",
    ),
}
# What `mutate` runs without arguments (docs/mutation.md has their scores).
MUTATE_BY_DEFAULT = ("retry", "validation", "failures", "in_flight")
MUTATE_DIR = ROOT / "build" / "mutate"
SUBPROCESS_PLUGIN = '''"""run.py mutate: processes that tests start import the mutated code."""

import os


def pytest_configure(config):
    os.environ["PYTHONPATH"] = os.getcwd()  # pytest runs in mutants/
'''


def mutate(extra: list[str]) -> None:
    """Mutation testing with mutmut, one module at a time, in build/mutate/<module>/."""
    names = extra or list(MUTATE_BY_DEFAULT)
    unknown = [name for name in names if name not in MUTATION_TARGETS]
    if unknown:
        sys.exit(f"unknown module(s) {unknown}; choose from {', '.join(MUTATION_TARGETS)}")
    for name in names:
        print(f"== mutmut: {MUTATION_TARGETS[name][0]}", flush=True)
        print(mutate_one(name), flush=True)


def mutate_one(name: str) -> str:
    """Mutate one module in a scratch copy of the project; return its score line.

    mutmut reads its settings from the project it runs in, so each module gets a copy with its
    own setup.cfg. mutmut writes mutated code to mutants/ and runs pytest in-process there; a
    small pytest plugin sets PYTHONPATH so that the plugins tests start as processes import
    that code too (they follow the mutant under test through MUTANT_UNDER_TEST). Not set for
    mutmut itself: it then finds no test for any mutant.
    """
    module, tests = MUTATION_TARGETS[name]
    work = MUTATE_DIR / name
    shutil.rmtree(work, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    packages = ("recotap_client", "recotap_plugin_common", "tap_recotap", "target_recotap")
    for folder in (*packages, "recotap_sandbox", "tests"):
        shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    # mutmut 3 skips every function with a decorator other than staticmethod/classmethod, so
    # each `@override` method (the SDK hooks: the STATE step, process_endofpipe, invoke) would
    # never be mutated. `override` only marks the function for type checkers: drop it here.
    mutated = work / module
    kept = [line for line in mutated.read_text().splitlines() if line.strip() != "@override"]
    mutated.write_text("\n".join(kept) + "\n")
    (work / "mutmut_subprocesses.py").write_text(SUBPROCESS_PLUGIN)
    lines = "\n    ".join
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths =\n    {lines(packages)}\n"
        f"only_mutate =\n    {module}\n"
        "also_copy =\n    recotap_sandbox\n    mutmut_subprocesses.py\n"
        f"pytest_add_cli_args_test_selection =\n    {lines(tests)}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -p\n    mutmut_subprocesses\n"
        "    -m\n    not long\n"
        # A mutant that makes a test hang (a batch never marked done) is stopped after 5x the
        # tests' normal time rather than mutmut's 15x: seconds instead of minutes per hang.
        "timeout_multiplier = 5\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Fewer random examples per mutant (the explicit ones always run): minutes, not hours.
    env.setdefault("HYPOTHESIS_MAX_EXAMPLES", "10")
    env.setdefault("HYPOTHESIS_NO_SHRINK", "1")
    mutmut = str(BIN / "mutmut")
    only = ONLY_MUTANTS.get(name, ())
    subprocess.run([mutmut, "run", "--max-children", "2", *only], cwd=work, env=env, check=False)
    stop_leftovers(work)
    listed = subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if only:
        listed = "".join(
            line + "\n"
            for line in listed.splitlines()
            if any(fnmatch.fnmatch(line.strip().rsplit(": ", 1)[0], pattern) for pattern in only)
        )
    statuses = [line.rsplit(": ", 1)[1] for line in listed.splitlines() if ": " in line]
    (work / "results.txt").write_text(listed)
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    killed = counts.get("killed", 0)
    score = f"{killed}/{len(statuses)} killed" if statuses else "no mutants"
    return f"{module}: {score} {json.dumps(counts)}; every mutant: {work / 'results.txt'}"


def stop_leftovers(work: Path) -> None:
    """SIGTERM processes still running in `work` (Linux): a mutant stopped for taking too long
    skips its fixtures' teardown, and leaves the sandbox process it had started behind."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            running_in = (proc / "cwd").readlink()
        except OSError:
            continue
        if running_in == work or work in running_in.parents:
            os.kill(int(proc.name), 15)


COMMANDS = {"test": test, "demo": demo, "bench": bench, "mutate": mutate}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:  # noqa: PLR2004
        sys.exit(f"usage: python3 run.py {{{','.join(COMMANDS)}}} [args...]")
    if sys.version_info < MIN_PYTHON:
        # Before pip's "requires a different Python", which does not say what to do.
        sys.exit(
            f"This project needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is "
            f"{sys.version.split()[0]} ({sys.executable}). Run it with a newer python3, "
            "e.g. python3.12 run.py ... (Python 3.10 reached its end of life in October 2026)."
        )
    ensure_venv()
    COMMANDS[sys.argv[1]](sys.argv[2:])
