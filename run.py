#!/usr/bin/env python3
"""Project entry points that need nothing but python3 and the package index.

    python3 run.py test   # lint, type-check and run the whole test suite
    python3 run.py demo   # the main job: start a local sandbox and run the pipeline against it
    python3 run.py bench  # the benchmark (about 15 minutes; --quick for a smoke run)

Each command first makes (or refreshes) the project's virtualenv in .venv, installing this
project with its dev extras; the install is skipped when pyproject.toml has not changed.
"""

from __future__ import annotations

import hashlib
import os
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


COMMANDS = {"test": test, "demo": demo, "bench": bench}

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
