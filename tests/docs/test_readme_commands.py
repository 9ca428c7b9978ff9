"""README.md is executable documentation: every shell block in it runs, in order, and succeeds.

The blocks run with bash (`-e -o pipefail`, so any failing command fails its block) in a
scratch copy of the repository, in a temp dir, sharing this checkout's `.venv`. Port 8787, where
the README starts its sandboxes and where meltano.yml's `dev` environment points, becomes a free
port (other processes on this machine may hold 8787). Each block runs in its own process group,
killed when the block ends, so a sandbox it started in the background goes with it.

A block may be preceded by a directive comment:
- `<!-- readme-test: skip: <reason> -->` - not run, for the reason stated;
- `<!-- readme-test: real-api -->` - needs a real key: runs against a sandbox of this test's,
  whose URL goes into both plugins' `*_API_URL` and whose key replaces the `...` placeholders.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from recotap_sandbox.control import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_PORT = "8787"
REAL_API_KEY = "readme-real-api-key-c41d"
# Not copied into the scratch project: tools' state and outputs of this checkout.
NOT_COPIED = {".git", ".venv", ".meltano", "output", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<directive>[^>]*?) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)^```",
    re.DOTALL | re.MULTILINE,
)
SHELLS = {"bash", "sh", "shell"}

pytestmark = [pytest.mark.long, pytest.mark.xdist_group("readme")]


@dataclass
class Block:
    """One fenced shell block of the README."""

    line: int
    body: str
    directive: str

    @property
    def skip_reason(self) -> str | None:
        return self.directive.removeprefix("skip:").strip() if self.skip else None

    @property
    def skip(self) -> bool:
        return self.directive.startswith("skip:")

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def readme_blocks(text: str) -> list[Block]:
    return [
        Block(text.count("\n", 0, m.start("body")) + 1, m["body"], m["directive"] or "")
        for m in BLOCK.finditer(text)
        if m["lang"] in SHELLS
    ]


BLOCKS = readme_blocks(README.read_text())


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def scratch_copy(destination: Path, port: str) -> Path:
    shutil.copytree(ROOT, destination, ignore=lambda _, names: NOT_COPIED & set(names))
    (destination / ".venv").symlink_to(ROOT / ".venv")
    # The Installation section installs "from a clone in ./recotap-singer".
    (destination / "recotap-singer").symlink_to(destination)
    meltano_yml = destination / "meltano.yml"
    meltano_yml.write_text(meltano_yml.read_text().replace(README_PORT, port))
    return destination


@dataclass
class Scratch:
    root: Path
    port: str
    sandbox: SandboxProcess
    env: dict[str, str]

    def run(self, block: Block) -> subprocess.CompletedProcess[str]:
        body = block.body.replace(README_PORT, self.port)
        env = dict(self.env)
        if block.directive == "real-api":
            body = re.sub(r"=\.\.\.(\s)", rf"={REAL_API_KEY}\1", body)
            env["TAP_RECOTAP_API_URL"] = env["TARGET_RECOTAP_API_URL"] = self.sandbox.api_url
            accounts = self.root / "crm" / "accounts.jsonl"  # "your accounts"
            accounts.parent.mkdir(exist_ok=True)
            shutil.copy(self.root / "demo" / "sample_accounts.jsonl", accounts)
        # Output into files, not pipes: a sandbox left running in the background would hold a
        # pipe open, and reading it to the end would wait for the sandbox.
        out, err = self.root.parent / "block.out", self.root.parent / "block.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                ["bash", "-e", "-o", "pipefail", "-c", body],
                cwd=self.root,
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                process.wait(timeout=600)
            finally:
                # Whatever the block left running in the background (its sandbox) goes too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        return subprocess.CompletedProcess(
            process.args, process.returncode, out.read_text(), err.read_text()
        )


@pytest.fixture(scope="module")
def scratch() -> Iterator[Scratch]:
    port = free_port()
    # Not under pytest's private (0700) temp directory: run as root, the demo's embedded
    # PostgreSQL runs as its own user, who must reach its data directory (output/postgres).
    workdir = Path(tempfile.mkdtemp(prefix="recotap-readme-"))
    root = scratch_copy(workdir / "recotap-singer", port)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for name in list(env):  # nothing from the test session's own configuration
        if name.startswith(("TAP_RECOTAP_", "TARGET_RECOTAP_", "MELTANO_PROJECT")):
            del env[name]
    with SandboxProcess(api_key=REAL_API_KEY, args=["--seed-accounts", "30"]) as sandbox:
        yield Scratch(root, port, sandbox, env)
    shutil.rmtree(workdir, ignore_errors=True)


def test_the_readme_has_runnable_blocks_and_every_skip_says_why():
    assert len([b for b in BLOCKS if not b.skip]) >= 5
    for block in BLOCKS:
        assert block.directive in {"", "real-api"} or block.skip, f"{block}: {block.directive}"
        if block.skip:
            assert len(block.skip_reason or "") >= 20, f"{block}: skipped without a reason"


def test_every_shell_block_of_the_readme_succeeds(scratch):
    """One test, blocks in README order: later blocks build on earlier ones, as for a reader."""
    for block in BLOCKS:
        if block.skip:
            continue
        result = scratch.run(block)
        assert result.returncode == 0, (
            f"{block} failed (exit {result.returncode}):\n{block.body}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
        assert REAL_API_KEY not in result.stdout + result.stderr, f"{block} printed the key"


def test_the_ci_example_takes_every_secret_from_the_environment():
    ci = next(
        yaml.safe_load(m["body"])
        for m in BLOCK.finditer(README.read_text())
        if m["lang"] == "yaml" and "jobs:" in m["body"]
    )
    env = ci["jobs"]["sync"]["env"]
    secret_like = [k for k in env if re.search(r"KEY|SECRET|URL|URI|PASSWORD", k)]

    assert secret_like
    for name in secret_like:
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", env[name]), f"{name}: {env[name]}"
    steps = " ".join(str(step.get("run", "")) for step in ci["jobs"]["sync"]["steps"])
    assert "tap-jsonl" not in steps  # the demo's file is no source for a real workspace
    assert "duckdb" not in steps  # a file on a throw-away runner is no warehouse
