"""Run tap-recotap and target-recotap as users do: console scripts, a config file, exit codes.

Used by the attack tests of the tap and of the shared HTTP policy (test_tap_*, test_security_*).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hostile_server import HostileServer, Reply

BIN = Path(sys.executable).parent
API_KEY = "hostile-test-key-5e1b07"

# The server time of a normal page: an hour ago, well inside the tap's clock tolerance.
SERVER_MOMENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SERVER_TIME = SERVER_MOMENT.strftime("%Y-%m-%dT%H:%M:%S.000Z")
# The bookmark a complete run over such pages stores: the first page's time less the look-back.
BOOKMARK_AFTER = (SERVER_MOMENT - timedelta(seconds=5)).isoformat(timespec="microseconds")


@dataclass
class CliRun:
    """One finished run of a plugin."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def records(self, stream: str = "accounts") -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    @property
    def last_line(self) -> str:
        return self.stderr_lines[-1] if self.stderr_lines else ""


def base_config(server: HostileServer, **overrides: Any) -> dict[str, Any]:
    """A config aimed at `server`, with fast retries."""
    return {
        "api_key": API_KEY,
        "api_url": server.api_url,
        "max_retries": 2,
        "retry_base_delay": 0.01,
        "request_timeout": 10,
        **overrides,
    }


def run_plugin(
    name: str,
    config: dict[str, Any],
    *args: str,
    tmp_path: Path,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> CliRun:
    """Run the console script `name` with `config` (and a state or catalog file) to the end."""
    command = [str(BIN / name), "--config", _write(tmp_path / "config.json", config), *args]
    if state is not None:
        command += ["--state", _write(tmp_path / "state.json", state)]
    if catalog is not None:
        command += ["--catalog", _write(tmp_path / "catalog.json", catalog)]
    # Only the config file configures the plugin (no TAP_RECOTAP_* from the environment).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_RECOTAP", "TARGET_RE"))}
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


def _write(path: Path, content: dict[str, Any]) -> str:
    path.write_text(json.dumps(content))
    return str(path)


def account(number: int) -> dict[str, Any]:
    """An account record as GET /accounts lists it."""
    return {
        "rtp_aid": f"6552e6b4f2a74d{number:010d}",
        "externalId": f"crm-{number}",
        "name": f"Account {number}",
        "domain": f"account{number}.example.com",
        "customFields": {},
    }


def accounts_page(
    numbers: range | list[int],
    *,
    cursor: Any = None,
    more: Any = False,
    sync_timestamp: Any = SERVER_TIME,
    **fields: Any,
) -> Reply:
    """A GET /accounts page (§2.5); `more` is hasNextPage as sent (any JSON value)."""
    data: dict[str, Any] = {"data": [account(n) for n in numbers], "nextCursor": cursor}
    data["hasNextPage"] = more
    if sync_timestamp is not None:
        data["syncTimestamp"] = sync_timestamp
    return Reply.envelope({**data, **fields})


@functools.cache
def _discovered_catalog() -> str:
    with HostileServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.always("GET", "/accounts/custom-fields", Reply.envelope([]))
        run = run_plugin("tap-recotap", base_config(server), "--discover", tmp_path=Path(tmp))
    assert run.returncode == 0, run.stderr
    return run.stdout


def accounts_catalog() -> dict[str, Any]:
    """The tap's catalog (no custom fields) with only the accounts stream selected: a sync
    with it sends no discovery request and reads only GET /accounts."""
    selected: dict[str, Any] = json.loads(_discovered_catalog())
    for entry in selected["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "accounts"
    return selected


def bookmark(state: dict[str, Any] | None) -> str | None:
    """The accounts bookmark of a Singer state."""
    stream = ((state or {}).get("bookmarks") or {}).get("accounts") or {}
    value: str | None = stream.get("replication_key_value")
    return value


def previous_state(value: str) -> dict[str, Any]:
    """A state whose accounts bookmark is `value`."""
    return {
        "bookmarks": {
            "accounts": {"replication_key": "_sdc_sync_timestamp", "replication_key_value": value}
        }
    }
