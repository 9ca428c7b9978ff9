"""Fixtures for target-recotap tests: run the target (in process or as the CLI) on a sandbox."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from recotap_sandbox.control import SandboxProcess
from target_recotap.target import TargetRecotap

DATA = Path(__file__).parent / "data"
TARGET_CLI = Path(sys.executable).parent / "target-recotap"


def schema_message(
    stream: str, properties: dict[str, Any] | list[str], key: list[str] | None = None
) -> dict[str, Any]:
    """A SCHEMA message; a list of names means "any value" for each."""
    props = {name: {} for name in properties} if isinstance(properties, list) else properties
    schema = {"properties": props}
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": key or []}


def stream_messages(stream: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SCHEMA (every column seen, any value) then one RECORD per record."""
    columns = list(dict.fromkeys(column for record in records for column in record))
    return [
        schema_message(stream, columns),
        *({"type": "RECORD", "stream": stream, "record": record} for record in records),
    ]


def state_message(value: dict[str, Any]) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def as_input(messages: list[dict[str, Any]]) -> str:
    """Singer lines."""
    return "".join(json.dumps(message) + "\n" for message in messages)


@dataclass
class Run:
    """What a target run left behind."""

    target: TargetRecotap | None
    exit_code: int
    stdout: str
    stderr: str
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def states(self) -> list[dict[str, Any]]:
        """STATE values the target emitted, in order."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def counts(self, stream: str) -> dict[str, int]:
        """Outcome counts of `stream` (in-process runs only)."""
        assert self.target is not None
        return self.target.run.report.counts(stream)


class Harness:
    """Runs target-recotap against one sandbox with test-friendly settings."""

    def __init__(self, sandbox: SandboxProcess, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.failed_path = tmp_path / "out" / "failed.jsonl"

    schema = staticmethod(schema_message)
    stream = staticmethod(stream_messages)
    state = staticmethod(state_message)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """Fast retries, a failed-records file, plus `overrides` (None removes a key)."""
        config = {
            "api_key": self.sandbox.api_key,
            "api_url": self.sandbox.api_url,
            "retry_base_delay": 0.01,
            "max_retries": 4,
            "request_timeout": 10,
            "failed_records_path": str(self.failed_path),
        }
        config.update(overrides)
        return {k: v for k, v in config.items() if v is not None}

    def failed(self) -> list[dict[str, Any]]:
        """Lines of the failed-records file."""
        if not self.failed_path.exists():
            return []
        return [json.loads(line) for line in self.failed_path.read_text().splitlines()]

    def run(self, messages: list[dict[str, Any]], **overrides: Any) -> Run:
        """Run the target in this process; STATE lines are captured from stdout."""
        target = TargetRecotap(config=self.config(**overrides))
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            target.listen(io.StringIO(as_input(messages)))
        return Run(target, target.exit_code, stdout.getvalue(), "", self.failed())

    def cli(
        self,
        messages: list[dict[str, Any]] | str,
        env: dict[str, str] | None = None,
        *,
        config_file: bool = True,
        **overrides: Any,
    ) -> Run:
        """Run the real `target-recotap` command."""
        command = [str(TARGET_CLI)]
        if config_file:
            path = self.tmp_path / "config.json"
            path.write_text(json.dumps(self.config(**overrides)))
            command += ["--config", str(path)]
        else:
            command += ["--config", "ENV"]
        text = messages if isinstance(messages, str) else as_input(messages)
        result = subprocess.run(
            command,
            input=text,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
            check=False,
        )
        return Run(None, result.returncode, result.stdout, result.stderr, self.failed())


@pytest.fixture
def harness(sandbox: SandboxProcess, tmp_path: Path) -> Harness:
    """A target harness on the freshly reset sandbox."""
    return Harness(sandbox, tmp_path)


@pytest.fixture
def full_disk(tmp_path: Path) -> Path:
    """A path where every write fails with "No space left on device", like a full disk.

    A private copy of /dev/full where the machine allows making one (root can): a broken target
    (a mutant, in mutation testing) may delete or replace the file it is given, and must not
    take the machine's /dev/full with it.
    """
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        return Path("/dev/full")
    return node


@pytest.fixture
def target_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captured target-recotap log records (INFO and up)."""
    caplog.set_level(logging.INFO, logger="target-recotap")
    return caplog
