"""SIGKILL the target or the tap of a `tap | target` pipeline, resume, and lose nothing (item 2).

A source sandbox is copied into the per-test sandbox by tap-recotap piped into target-recotap,
as two real processes. A first run copies everything; then the source changes (new accounts,
renamed accounts, custom-field edits, rescoring); a second, incremental run is killed at one of
several points; the source changes again; a third run resumes from the last STATE the target
emitted (the target only emits STATE for data the API confirmed). The destination must then
equal the source exactly.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from reliability_helpers import (
    TAP,
    Pipeline,
    figures,
    secrets_absent,
    wait_until,
    write_config,
)

from recotap_sandbox.control import SandboxProcess

SOURCE_ACCOUNTS = 3000
COPIED = ("domain", "name", "externalId", "customFields")


@pytest.fixture(scope="module")
def source_process() -> Iterator[SandboxProcess]:
    """The workspace being copied (its own process: the destination is the `sandbox`)."""
    args = ["--seed-accounts", str(SOURCE_ACCOUNTS), "--seed", "7"]
    with SandboxProcess(api_key="source-key-91d2", args=args) as process:
        yield process


@pytest.fixture
def source(source_process: SandboxProcess) -> SandboxProcess:
    source_process.admin.reset(seed_accounts=SOURCE_ACCOUNTS, seed=7)
    return source_process


def accounts_catalog(tmp_path: Path, tap_config: Path) -> Path:
    """The tap's discovered catalog with only `accounts` selected (a copy job's selection)."""
    found = subprocess.run(
        [TAP, "--config", str(tap_config), "--discover"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    catalog = json.loads(found.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "accounts"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


class Copy:
    """Runs `tap-recotap (source) | target-recotap (destination)` pipelines."""

    def __init__(self, source: SandboxProcess, dest: SandboxProcess, tmp_path: Path) -> None:
        self.source, self.dest, self.tmp_path = source, dest, tmp_path
        self.tap_config = write_config(
            tmp_path / "tap.json", source, page_size=100, lookback_seconds=1
        )
        self.target_config = write_config(tmp_path / "target.json", dest)
        self.catalog = accounts_catalog(tmp_path, self.tap_config)
        self.runs = 0
        self.logs = ""
        self.base = 0  # destination account writes before the run being killed

    def start(self, state: dict[str, Any] | None) -> Pipeline:
        self.runs += 1
        workdir = self.tmp_path / f"run{self.runs}"
        workdir.mkdir()
        pipeline = Pipeline(self.tap_config, self.target_config, state, workdir, self.catalog)
        return pipeline.start()

    def complete(self, state: dict[str, Any] | None) -> dict[str, Any]:
        """One uninterrupted run; returns the target's last STATE."""
        pipeline = self.start(state)
        codes = pipeline.wait()
        self.logs += pipeline.logs()
        assert codes == (0, 0), pipeline.logs()[-3000:]
        return pipeline.states[-1]

    def posts(self) -> int:
        return int(self.dest.admin.stats()["requests"].get("POST /api/v1/accounts", 0))


def change_source(source: SandboxProcess, round_: int) -> None:
    """What happens in a workspace between runs: new, renamed, edited and rescored accounts."""
    headers = {"X-Api-Key": source.api_key}
    current = source.admin.dump()["accounts"]
    new = [{"domain": f"new{round_}-{i}.example.net", "name": f"New {i}"} for i in range(300)]
    renamed = [{"domain": a["domain"], "name": f"{a['name']} (r{round_})"} for a in current[::15]]
    for start in range(0, len(new + renamed), 100):
        body = {"accounts": (new + renamed)[start : start + 100], "upsert": True}
        response = requests.post(
            f"{source.api_url}/accounts", json=body, headers=headers, timeout=30
        )
        response.raise_for_status()
    for account in current[7::97]:
        response = requests.put(
            f"{source.api_url}/accounts/{account['rtp_aid']}",
            json={"customFields": {"NOTES_C": f"edited in round {round_}"}},
            headers=headers,
            timeout=30,
        )
        response.raise_for_status()
    source.admin.rescore(share=0.2)


def copied_view(sandbox: SandboxProcess) -> dict[str, dict[str, Any]]:
    """{domain: copyable fields} of a workspace; fails on a duplicate domain."""
    view: dict[str, dict[str, Any]] = {}
    for account in sandbox.admin.dump()["accounts"]:
        assert account["domain"] not in view
        view[account["domain"]] = {k: account[k] for k in COPIED}
    return view


# Where the second (incremental) run dies. Destination latency slows the target's writes so the
# kill lands mid-run.
KILLS = {
    "target-after-3-batches": ("target", lambda p, c: c.posts() >= c.base + 3),
    "target-after-tap-finished": ("target", lambda p, c: p.tap.poll() is not None),
    "tap-after-3-batches": ("tap", lambda p, c: c.posts() >= c.base + 3),
}


@pytest.mark.long
@pytest.mark.parametrize("kill", list(KILLS))
def test_a_killed_pipeline_resumed_from_its_last_state_copies_everything_exactly(
    source: SandboxProcess, sandbox: SandboxProcess, tmp_path: Path, record_property: Any, kill: str
) -> None:
    sandbox.admin.reset(seed_accounts=0, seed=7)
    copy = Copy(source, sandbox, tmp_path)
    first_state = copy.complete(None)
    assert copied_view(sandbox) == copied_view(source)

    change_source(source, 1)
    sandbox.admin.set_faults(latency_ms=40)
    copy.base = copy.posts()
    who, when = KILLS[kill]
    pipeline = copy.start(first_state)
    wait_until(lambda: when(pipeline, copy), timeout=60, step=0.005)
    pipeline.kill(who)
    tap_code, target_code = pipeline.wait()
    copy.logs += pipeline.logs()
    emitted = pipeline.states
    sandbox.admin.clear_faults()
    # The killed side died; the other one may stop with an error or finish normally.
    killed_code = target_code if who == "target" else tap_code
    assert killed_code == -9
    if who == "tap":
        # The target saw the input end: it delivered what it had and confirmed the tap's state.
        assert target_code == 0, pipeline.logs()[-3000:]
        assert emitted, "the target emitted no STATE after its input ended"
    before_resume = len(copied_view(sandbox))

    change_source(source, 2)
    resume_from = emitted[-1] if emitted else first_state
    copy.complete(resume_from)

    assert copied_view(sandbox) == copied_view(source)
    secrets_absent(sandbox.api_key, copy.logs, *(json.dumps(s) for s in emitted))
    secrets_absent(source.api_key, copy.logs)
    figures(
        record_property,
        f"crash {kill}: killed {who} (tap exit {tap_code}, target exit {target_code}), "
        f"{len(emitted)} STATE emitted before the kill, destination had {before_resume} of "
        f"{len(copied_view(source))} accounts, resumed from "
        f"{'its last STATE' if emitted else 'the previous run STATE'}; records checked "
        f"{len(copied_view(source))}, {copy.runs} runs",
    )
