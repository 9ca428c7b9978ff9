"""tap-recotap → target-recotap: copy every account of one workspace into an empty one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from recotap_sandbox.control import SandboxProcess

BIN = Path(sys.executable).parent
COPIED_STREAMS = {"custom_fields", "accounts"}  # what a copy job would select


def _run(command: list[str], config: dict, stdin: str = "") -> subprocess.CompletedProcess:
    path = Path(config.pop("_path"))
    path.write_text(json.dumps(config))
    return subprocess.run(
        [*command, "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copyable(account: dict) -> dict:
    """What POST /accounts can write, as GET /accounts shows it."""
    return {k: account[k] for k in ("domain", "name", "externalId", "customFields")}


def test_every_account_is_copied_into_another_workspace_exactly(sandbox, tmp_path):
    tap = _run(
        [str(BIN / "tap-recotap")],
        {"_path": tmp_path / "tap.json", "api_key": sandbox.api_key, "api_url": sandbox.api_url},
    )
    assert tap.returncode == 0, tap.stderr[-2000:]
    lines = [json.loads(line) for line in tap.stdout.splitlines()]
    selected = [m for m in lines if m.get("stream", "") in COPIED_STREAMS or m["type"] == "STATE"]
    piped = "".join(json.dumps(m) + "\n" for m in selected)

    # Same seed: the same custom-field definitions, and no accounts at all.
    with SandboxProcess(
        api_key="other-key-2b7e", args=["--seed-accounts", "0", "--seed", "7"]
    ) as dest:
        target = _run(
            [str(BIN / "target-recotap")],
            {
                "_path": tmp_path / "target.json",
                "api_key": dest.api_key,
                "api_url": dest.api_url,
                "retry_base_delay": 0.01,
                "upsert": False,  # the destination is empty: every account must be created
            },
            piped,
        )
        copied = {a["domain"]: _copyable(a) for a in dest.admin.dump()["accounts"]}
        batches = dest.admin.stats()["batch_sizes"]["POST /api/v1/accounts"]

    assert target.returncode == 0, target.stderr[-3000:]
    assert "Summary accounts: 250 created" in target.stderr
    assert "Summary custom_fields: 6 existing" in target.stderr
    assert "dropping column" not in target.stderr
    original = {a["domain"]: _copyable(a) for a in sandbox.admin.dump()["accounts"]}
    assert copied == original
    assert batches == [100, 100, 50]
    states = [json.loads(line) for line in target.stdout.splitlines()]
    assert states[-1] == next(m["value"] for m in reversed(selected) if m["type"] == "STATE")
    assert sandbox.api_key not in target.stderr + target.stdout
    assert dest.api_key not in target.stderr + target.stdout
