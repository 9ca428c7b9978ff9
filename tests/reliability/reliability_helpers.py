"""Helpers of the reliability suite: input generators, CLI runs, dump comparison, figures.

Everything here talks to real processes: the `tap-recotap` / `target-recotap` console scripts
as subprocesses, and sandboxes over loopback HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from recotap_sandbox.control import SandboxProcess
from tests.conftest import secret_forms

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-recotap")
TARGET = str(BIN / "target-recotap")
# Fields POST /accounts writes and the dump shows (§4.2); customFields compared on their own.
ACCOUNT_FIELDS = ("domain", "name", "externalId", "shortName", "linkedinUrl", "tags")
INDUSTRIES = ("Software", "Finance", "Healthcare", "Manufacturing", "Retail")


# --- inputs ----------------------------------------------------------------------------------


def account(i: int, prefix: str = "acct") -> dict[str, Any]:
    """A realistic account record: every writable field, some custom fields, some unicode."""
    record: dict[str, Any] = {
        "domain": f"{prefix}-{i:07d}.example.com",
        "name": f"Company {i} Ltd" if i % 7 else f"Société Générale {i} — Zürich",
        "externalId": f"crm-{i}",
        "shortName": f"C{i}",
        "linkedinUrl": f"https://www.linkedin.com/company/c{i}",
        "tags": ["abm", f"tier{i % 3}"],
        "customFields": {"ACCOUNT_OWNER_C": f"owner{i % 13}@example.com"},
    }
    if i % 2:
        record["customFields"]["ANNUAL_REVENUE_C"] = i * 1000
    # A NULL CRM column arrives as null: it must never clear a stored value.
    record["customFields"]["INDUSTRY_C"] = INDUSTRIES[i % len(INDUSTRIES)] if i % 3 == 0 else None
    return record


def accounts(count: int, prefix: str = "acct") -> list[dict[str, Any]]:
    """`count` distinct accounts."""
    return [account(i, prefix) for i in range(count)]


def activity(i: int, prefix: str = "act") -> dict[str, Any]:
    """A valid sales activity (call or e-mail) with one contact."""
    kind = "call" if i % 2 else "email"
    record: dict[str, Any] = {
        "externalActivityId": f"{prefix}-{i:06d}",
        "activityType": kind,
        "occurredAt": f"2026-0{1 + i % 9}-1{i % 10}T10:{i % 60:02d}:00Z",
        "domain": f"acct-{i % 500:07d}.example.com",
        "ownerEmail": f"rep{i % 5}@seller.example",
        "contacts": [{"email": f"contact{i}@buyer.example", "name": f"Contact {i}"}],
        "subject": f"Touch {i}",
    }
    if kind == "call":
        record |= {"durationMinutes": i % 30, "direction": "outbound", "outcome": "connected"}
    else:
        record |= {"openCount": i % 4, "clickCount": i % 2}
    return record


def schema_line(stream: str, key: str) -> dict[str, Any]:
    """A permissive SCHEMA message for `stream` (the target validates items itself)."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"properties": {}},
        "key_properties": [key],
    }


def singer_lines(stream: str, key: str, records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """SCHEMA, then one RECORD line per record."""
    yield json.dumps(schema_line(stream, key)) + "\n"
    for record in records:
        yield json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n"


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Write Singer lines to `path` (streamed, for inputs of any size)."""
    with path.open("w") as handle:
        handle.writelines(lines)
    return path


# --- configs ---------------------------------------------------------------------------------


def write_config(path: Path, sandbox: SandboxProcess, **settings: Any) -> Path:
    """A plugin config file aimed at `sandbox` with fast retries, plus `settings`."""
    config = {
        "api_key": sandbox.api_key,
        "api_url": sandbox.api_url,
        "retry_base_delay": 0.01,
        "max_retries": 8,
        "request_timeout": 10,
        **settings,
    }
    path.write_text(json.dumps(config))
    return path


# --- running the CLIs ------------------------------------------------------------------------


@dataclass
class Finished:
    """A finished plugin process: exit code, outputs and peak RSS (KiB, from wait4)."""

    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int
    seconds: float

    @property
    def states(self) -> list[dict[str, Any]]:
        """STATE values a target wrote (its stdout holds only those)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


# The measured plugin is forked by a bare launcher interpreter (`python -I -S`), not by pytest:
# on Linux a process's ru_maxrss starts at the RSS of the address space it was forked from and
# exec keeps that high-water mark, so a plugin forked straight from a big pytest worker would
# report the worker's RSS, not its own. (benchmarks/measure.py meets the same trap.)
_LAUNCHER = """
import os, sys
result, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(result, "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_plugin(
    command: list[str],
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | int = subprocess.PIPE,
    timeout: float = 900,
) -> Finished:
    """Run a plugin to its end; its peak RSS comes from `os.wait4` in a bare launcher.

    stdout and stderr are drained by threads (a full pipe would block the child); with
    `stdout` given as a file, it is written there and `Finished.stdout` is empty.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rusage-") as scratch:
        result = Path(scratch) / "rusage"
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(result), *command]
        process = subprocess.Popen(launcher, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        out, err = _Reader(process.stdout), _Reader(process.stderr)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        code, max_rss = result.read_text().split()
    seconds = round(time.monotonic() - started, 1)
    return Finished(int(code), out.text(), err.text(), int(max_rss), seconds)


class _Reader:
    """Reads a pipe to its end in a thread; keeps the text."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        for chunk in iter(lambda: pipe.read(65536), b""):
            self.chunks.append(chunk)
        pipe.close()

    def text(self) -> str:
        self.thread.join(30)
        return b"".join(self.chunks).decode("utf-8", "replace")


# --- a tap | target pipeline that can be killed ----------------------------------------------


@dataclass
class Pipeline:
    """`tap-recotap --config T [--state S] | target-recotap --config G`, as two processes.

    The pipe between them runs through a thread of the test that keeps a copy of every line
    the tap wrote (`tap_messages`), so a test knows which records came before which STATE.
    When the target dies, the thread closes the tap's pipe: the tap meets a broken pipe, as
    with a direct `|`.
    """

    tap_config: Path
    target_config: Path
    state: dict[str, Any] | None
    workdir: Path
    catalog: Path | None = None
    tap: subprocess.Popen[bytes] = field(init=False)
    target: subprocess.Popen[bytes] = field(init=False)
    target_lines: list[str] = field(default_factory=list)
    tap_lines: list[bytes] = field(default_factory=list)

    def start(self, target_command: list[str] | None = None) -> Pipeline:
        tap_command = [TAP, "--config", str(self.tap_config)]
        if self.catalog is not None:
            tap_command += ["--catalog", str(self.catalog)]
        if self.state is not None:
            state_path = self.workdir / "state.json"
            state_path.write_text(json.dumps(self.state))
            tap_command += ["--state", str(state_path)]
        self.tap_log = (self.workdir / "tap.log").open("wb")
        self.target_log = (self.workdir / "target.log").open("wb")
        self.tap = subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=self.tap_log)
        self.target = subprocess.Popen(
            [*(target_command or [TARGET]), "--config", str(self.target_config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.target_log,
        )
        self._threads = [
            threading.Thread(target=self._forward, daemon=True),
            threading.Thread(target=self._read_states, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _forward(self) -> None:
        """Copy the tap's lines to the target, keeping each; stop when either side ends."""
        source, sink = self.tap.stdout, self.target.stdin
        assert source is not None
        assert sink is not None
        try:
            for line in source:
                self.tap_lines.append(line)
                sink.write(line)
                sink.flush()
        except (BrokenPipeError, ValueError):
            pass  # the target died (ValueError: its stdin was closed meanwhile)
        finally:
            source.close()  # the tap's next write meets a broken pipe
            with contextlib.suppress(BrokenPipeError):
                sink.close()

    def _read_states(self) -> None:
        assert self.target.stdout is not None
        for line in self.target.stdout:
            self.target_lines.append(line.decode())

    @property
    def states(self) -> list[dict[str, Any]]:
        """STATE values the target has emitted so far (confirmed by the API)."""
        return [json.loads(line) for line in list(self.target_lines) if line.strip()]

    @property
    def tap_messages(self) -> list[dict[str, Any]]:
        """The Singer messages the tap wrote so far, in order."""
        return [json.loads(line) for line in list(self.tap_lines)]

    def kill(self, which: str, signal_number: int = signal.SIGKILL) -> None:
        """Send the tap or the target a signal (SIGKILL unless told)."""
        process = self.tap if which == "tap" else self.target
        os.kill(process.pid, signal_number)

    def wait(self, timeout: float = 300) -> tuple[int, int]:
        """Wait for both; return (tap exit code, target exit code)."""
        target_code = self.target.wait(timeout)
        tap_code = self.tap.wait(timeout)
        for thread in self._threads:
            thread.join(30)
        assert self.target.stdout is not None
        self.target.stdout.close()
        self.tap_log.close()
        self.target_log.close()
        return tap_code, target_code

    def logs(self) -> str:
        """Both stderr logs."""
        return (self.workdir / "tap.log").read_text() + (self.workdir / "target.log").read_text()


def records_before(messages: list[dict[str, Any]], state: dict[str, Any]) -> list[dict[str, Any]]:
    """The RECORDs ahead of the first STATE message whose value is `state` (fails if none)."""
    records = []
    for message in messages:
        if message["type"] == "STATE" and message["value"] == state:
            return records
        if message["type"] == "RECORD":
            records.append(message["record"])
    raise AssertionError(f"the target emitted a STATE the tap never sent: {state}")


def wait_until(condition: Any, timeout: float = 120, step: float = 0.02) -> None:
    """Poll `condition()` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout} s")
        time.sleep(step)


# --- comparing data --------------------------------------------------------------------------


def custom_keys(sandbox: SandboxProcess) -> list[str]:
    """Keys of the active custom fields: an account read back shows each, null when unset."""
    return [f["key"] for f in sandbox.admin.dump()["custom_fields"] if f["status"] == "active"]


def expected_account(
    record: dict[str, Any], keys: Iterable[str], before: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a user reads back after pushing `record` over `before` (a `stored_account` view;
    None for a new account): exactly, nulls included.

    A field the record omits or sends as null keeps its earlier value (docs/target.md: an upsert
    never clears a field), top level and in customFields alike; so a null that reached Recotap
    and wiped a value shows up as a difference. Every active custom field is in the view.
    """
    old = before or {}
    view = {name: _kept(record.get(name), old.get(name)) for name in ACCOUNT_FIELDS}
    sent = record.get("customFields") or {}
    earlier = old.get("customFields") or {}
    view["customFields"] = {key: _kept(sent.get(key), earlier.get(key)) for key in keys}
    return view


def _kept(sent: Any, earlier: Any) -> Any:
    return earlier if sent is None else sent


def stored_account(dumped: dict[str, Any]) -> dict[str, Any]:
    """The same view of a dumped (or tap-read) account: every field as read, nulls included."""
    view = {name: dumped.get(name) for name in ACCOUNT_FIELDS}
    view["customFields"] = {k: _plain(v) for k, v in (dumped.get("customFields") or {}).items()}
    return view


def _plain(value: Any) -> Any:
    # The tap parses numbers as Decimal (SDK parse_float); JSON output makes them int/float.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def by_domain(records: Iterable[dict[str, Any]], view: Any) -> dict[str, dict[str, Any]]:
    """{domain: view(record)}; refuses duplicates (a duplicate is a failure of its own)."""
    result: dict[str, dict[str, Any]] = {}
    for record in records:
        domain = record["domain"]
        assert domain not in result, f"{domain} appears twice"
        result[domain] = view(record)
    return result


def figures(record_property: Any, line: str) -> None:
    """Print a figures line (shown with -s/-rA) and attach it for the session summary."""
    print(line)
    record_property("reliability", line)


def secrets_absent(key: str, *texts: str) -> None:
    """Assert the API key is in none of `texts` (subprocess outputs, files), in any form.

    Its base64 and hex forms too; its repr, bytes repr and URL encoding contain it as is.
    """
    for text in texts:
        for form in secret_forms(key):
            assert form not in text, "the API key (or an encoding of it) leaked into an output"
