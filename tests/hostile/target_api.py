"""target-recotap against the hostile server: a scripted accounts endpoint and the CLI process.

`AccountsAPI` answers `POST /accounts` as Recotap does when all goes well (one `created` result
per account, in request order), but only when the test lets it: while `hold()` is in effect each
request waits at the server, so a test knows exactly which requests are in flight when it acts
(a signal, say). Its `reply` hook lets a test answer something else (200s that confirm nothing,
punycode echoes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostile_server import HostileServer, Reply, Request

TARGET_CLI = Path(sys.executable).parent / "target-recotap"
API_KEY = "hostile-test-key-0123456789"
HOLD_LIMIT = 60.0  # seconds a held request waits before the server gives up (a broken test)


def created(accounts: list[dict[str, Any]]) -> Reply:
    """Recotap's answer creating every account, in request order (§4.2)."""
    results = [
        {"rtp_aid": f"aid-{a['domain']}", "domain": a["domain"], "status": "created"}
        for a in accounts
    ]
    summary = {"total": len(results), "created": len(results), "updated": 0, "failed": 0}
    return Reply.envelope({"results": results, "summary": summary})


class AccountsAPI:
    """`POST /accounts` on a hostile server, confirming accounts when the test allows it."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.confirmed: list[str] = []  # domains whose answer the server sent, in order
        self.reply: Callable[[list[dict[str, Any]]], Reply] = created
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        self._answered = 0
        server.route("POST", "/accounts", self._answer)

    def hold(self) -> None:
        """From now on, requests wait at the server until `release()`."""
        self._released.clear()

    def release(self) -> None:
        """Answer the requests held so far and every later one at once."""
        self._released.set()

    def received(self) -> int:
        """Requests received so far (answered or held)."""
        return len(self.server.requests_to("POST", "/accounts"))

    def answered(self) -> int:
        """Requests answered so far."""
        with self._lock:
            return self._answered

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll `condition` for up to 30 s (generous: the target needs well under a second)."""
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.01)

    def _answer(self, request: Request) -> Reply:
        if not self._released.wait(HOLD_LIMIT):
            return Reply.error(503, "held too long")
        accounts = request.json()["accounts"]
        reply = self.reply(accounts)
        with self._lock:
            self._answered += 1
            if reply.status == 200:
                self.confirmed.extend(a["domain"] for a in accounts)
        return reply


def target_config(server: HostileServer, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for a run against `server`: fast retries and a failed-records file."""
    config = {
        "api_key": API_KEY,
        "api_url": server.api_url,
        "retry_base_delay": 0.01,
        "max_retries": 2,
        "request_timeout": 90,
        "failed_records_path": str(tmp_path / "failed.jsonl"),
        **overrides,
    }
    return {k: v for k, v in config.items() if v is not None}


def start_target(config: dict[str, Any], tmp_path: Path) -> subprocess.Popen[str]:
    """`target-recotap --config FILE` as its own process, Singer lines on stdin."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.Popen(
        [str(TARGET_CLI), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_target(
    config: dict[str, Any], tmp_path: Path, messages: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """Run `target-recotap` to the end of `messages`."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(TARGET_CLI), "--config", str(path)],
        input=lines(messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(messages: list[dict[str, Any]]) -> str:
    """Singer lines."""
    return "".join(json.dumps(message) + "\n" for message in messages)


def schema(stream: str, columns: list[str]) -> dict[str, Any]:
    """A SCHEMA message accepting any value in each column."""
    properties = {column: {} for column in columns}
    return {"type": "SCHEMA", "stream": stream, "schema": {"properties": properties}}


def record(stream: str, values: dict[str, Any]) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": values}


def state(value: Any) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}
