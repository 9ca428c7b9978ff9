"""Start a sandbox process and drive its admin API (used by tests, benchmarks, demo, users).

with SandboxProcess(api_key="k", args=["--seed-accounts", "500"]) as sandbox:
    requests.get(f"{sandbox.api_url}/accounts", headers={"X-Api-Key": sandbox.api_key})
    sandbox.admin.rescore(share=0.1)
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import threading
from types import TracebackType
from typing import IO, Any

import requests

_LISTENING_RE = re.compile(r"listening on (http://\S+)/api/v1 ")
_STOP_WAIT_S = 10.0


class SandboxStartError(RuntimeError):
    """The sandbox process did not announce its URL in time, or exited."""


class AdminClient:
    """The ``/_sandbox/`` admin API over plain HTTP."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()

    def reset(self, seed_accounts: int | None = None, seed: int | None = None) -> int:
        """Replace all data with freshly seeded data; return the number of accounts."""
        body = {
            k: v for k, v in (("seed_accounts", seed_accounts), ("seed", seed)) if v is not None
        }
        return int(self._call("POST", "reset", body)["accounts"])

    def stats(self) -> dict[str, Any]:
        """Request, status, batch-size and fault counters."""
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def faults(self) -> dict[str, Any]:
        """The current fault settings."""
        result: dict[str, Any] = self._call("GET", "faults")
        return result

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings (omitted ones keep their value); return all of them."""
        result: dict[str, Any] = self._call("PUT", "faults", settings)
        return result

    def clear_faults(self) -> dict[str, Any]:
        """Every fault back to none/defaults."""
        result: dict[str, Any] = self._call("DELETE", "faults")
        return result

    def rescore(self, share: float | None = None, rtp_aids: list[str] | None = None) -> list[str]:
        """Rescore a share of accounts or exactly ``rtp_aids``; return the rescored rtp_aids."""
        body: dict[str, Any] = {}
        if share is not None:
            body["share"] = share
        if rtp_aids is not None:
            body["rtp_aids"] = rtp_aids
        return list(self._call("POST", "rescore", body)["rescored"])

    def set_segment_status(self, segment_id: str, status: str) -> None:
        """Archive (``"archived"``) or restore (``"active"``, ``"draft"``) a segment."""
        self._call("PATCH", f"segments/{segment_id}", {"status": status})

    def dump(self) -> dict[str, Any]:
        """Everything stored."""
        result: dict[str, Any] = self._call("GET", "dump")
        return result

    def insert_accounts(self, accounts: list[dict[str, Any]]) -> list[str]:
        """Insert accounts directly (no API rules, no faults); return their rtp_aids."""
        return list(self._call("POST", "accounts", {"accounts": accounts})["rtp_aids"])

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()


class SandboxProcess:
    """A real ``python -m recotap_sandbox`` on 127.0.0.1 and a free port, as a context manager."""

    def __init__(
        self,
        api_key: str = "sandbox-key",
        args: list[str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.api_key = api_key
        self.args = list(args or [])
        self.start_timeout = start_timeout
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._admin: AdminClient | None = None

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        return f"{self.base_url}/api/v1"

    @property
    def admin(self) -> AdminClient:
        """The admin client of the running sandbox."""
        if self._admin is None:
            raise SandboxStartError("the sandbox is not running")
        return self._admin

    @property
    def process(self) -> subprocess.Popen[str]:
        """The child process."""
        if self._process is None:
            raise SandboxStartError("the sandbox is not running")
        return self._process

    def start(self) -> SandboxProcess:
        """Start the process and wait for its listening line."""
        command = [
            sys.executable,
            "-m",
            "recotap_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--api-key",
            self.api_key,
            *self.args,
        ]
        # stderr goes to a file, not a pipe nobody reads (a full pipe would block the server).
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        line = self._read_line(self._process)
        match = _LISTENING_RE.search(line or "")
        if match is None:
            code = self._process.poll()
            why = (
                f"exited with code {code}"
                if code is not None
                else (f"did not start within {self.start_timeout}s")
            )
            stderr = self._stderr_text()
            self.stop()
            raise SandboxStartError(f"recotap-sandbox {why}; stdout: {line!r}; stderr:\n{stderr}")
        self.base_url = match.group(1)
        self._admin = AdminClient(self.base_url)
        return self

    def _read_line(self, process: subprocess.Popen[str]) -> str | None:
        lines: list[str] = []
        stdout = process.stdout
        if stdout is None:
            return None
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        return lines[0] if lines else None

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    def stop(self) -> int | None:
        """SIGTERM, wait, then kill; return the exit code."""
        process = self._process
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(_STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            code = process.returncode
            if process.stdout is not None:
                process.stdout.close()
        if self._admin is not None:
            self._admin.close()
        if self._stderr is not None:
            self._stderr.close()
        self._process = self._admin = self._stderr = None
        return code

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["AdminClient", "SandboxProcess", "SandboxStartError"]
