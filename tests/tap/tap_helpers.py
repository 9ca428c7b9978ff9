"""Helpers for the tap-recotap suite: run the tap in-process and read its Singer output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from recotap_sandbox.control import SandboxProcess
from tap_recotap.tap import TapRecotap

# A key the second sandbox knows but whose workspace has API access disabled (§2.2).
DISABLED_KEY = "key-of-a-workspace-without-api-access"


@dataclass
class TapRun:
    """The Singer messages of one tap run."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str = "accounts", key: str = "rtp_aid") -> set[str]:
        return {record[key] for record in self.records(stream)}

    def schema(self, stream: str) -> dict[str, Any]:
        return next(
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        )

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]


def parse_messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def config_for(sandbox: SandboxProcess, **overrides: Any) -> dict[str, Any]:
    """Config aimed at `sandbox`, with fast retries."""
    return {
        "api_key": sandbox.api_key,
        "api_url": sandbox.api_url,
        "page_size": 50,
        "max_retries": 4,
        "retry_base_delay": 0.01,
        "request_timeout": 10,
        **overrides,
    }


def new_tap(
    config: dict[str, Any], state: dict[str, Any] | None = None, only: str | None = None
) -> TapRecotap:
    """A tap on `config` and `state`; with `only`, every other stream is deselected."""
    tap = TapRecotap(config=config, state=state)
    if only is not None:
        for name, stream in tap.streams.items():
            stream.selected = name == only
    return tap


class Stdout(io.TextIOWrapper):
    """A stdout to capture the tap's messages in: the msgspec writer writes bytes to its
    `buffer`, as to a real stdout."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", write_through=True)

    def getvalue(self) -> str:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode()


@contextmanager
def captured_stdout() -> Iterator[Stdout]:
    """Redirect stdout (text and bytes) to a `Stdout` for the block."""
    out = Stdout()
    with redirect_stdout(out):
        yield out


def run_tap(
    config: dict[str, Any], state: dict[str, Any] | None = None, only: str | None = None
) -> TapRun:
    """Run a sync in-process and capture its stdout (the Singer messages)."""
    with captured_stdout() as out:
        new_tap(config, state, only).sync_all()
    return TapRun(parse_messages(out.getvalue()), out.getvalue())


def bookmark(state: dict[str, Any]) -> str | None:
    """The accounts bookmark of a Singer state."""
    value: str | None = state.get("bookmarks", {}).get("accounts", {}).get("replication_key_value")
    return value


def api_post(sandbox: SandboxProcess, path: str, body: dict[str, Any]) -> Any:
    """POST to the sandbox's public API (as a user's other tools would); return `data`."""
    response = requests.post(
        f"{sandbox.api_url}{path}", json=body, headers={"X-Api-Key": sandbox.api_key}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"]


TAP_CLI = Path(sys.executable).parent / "tap-recotap"


def discover_accounts_catalog(tap_config: Path, tmp_path: Path) -> Path:
    """The catalog `tap-recotap --discover` writes, with only `accounts` selected (a copy job's
    selection), saved in `tmp_path`."""
    found = subprocess.run(
        [str(TAP_CLI), "--config", str(tap_config), "--discover"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    catalog = json.loads(found.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "accounts"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path
