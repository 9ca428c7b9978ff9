"""Kill the target or the tap of a `tap | target` pipeline, resume, and lose nothing (item 2).

A source sandbox is copied into the per-test sandbox by tap-recotap piped into target-recotap,
as two real processes. A first run copies everything; then the source changes (new accounts,
renamed accounts, custom-field edits, rescoring); a second, incremental run is killed at one of
several points (SIGKILL, or SIGTERM as an orchestrator's time-out sends); the source changes
again; a third run resumes from the last STATE the target emitted. Checked right after the
kill: the exit codes (a run cut short is never a success), every record the tap wrote ahead of
that STATE is in the destination as sent (the target only emits STATE for data the API
confirmed), and no account the destination lacks is before the bookmark the next run resumes
from. The destination must then equal the source exactly.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from reliability_helpers import (
    Pipeline,
    figures,
    records_before,
    secrets_absent,
    wait_until,
    write_config,
)

from recotap_sandbox.control import SandboxProcess
from tests.tap.tap_helpers import discover_accounts_catalog

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


class Copy:
    """Runs `tap-recotap (source) | target-recotap (destination)` pipelines."""

    def __init__(self, source: SandboxProcess, dest: SandboxProcess, tmp_path: Path) -> None:
        self.source, self.dest, self.tmp_path = source, dest, tmp_path
        self.tap_config = write_config(
            tmp_path / "tap.json", source, page_size=100, lookback_seconds=1
        )
        self.target_config = write_config(tmp_path / "target.json", dest)
        self.catalog = discover_accounts_catalog(self.tap_config, tmp_path)
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


# Where the second (incremental) run dies, and by which signal. Destination latency (ms) slows
# the target's writes so the signal lands mid-run. SIGTERM is what an orchestrator's time-out
# sends; "while draining" is after the target read its whole input (the tap's final STATE
# included) and is sending its last batches, slowly.
KILLS = {
    "target-after-3-batches": ("target", signal.SIGKILL, 40, lambda p, c: c.posts() >= c.base + 3),
    "target-after-tap-finished": (
        "target",
        signal.SIGKILL,
        40,
        lambda p, c: p.tap.poll() is not None,
    ),
    "tap-after-3-batches": ("tap", signal.SIGKILL, 40, lambda p, c: c.posts() >= c.base + 3),
    "sigterm-target-after-3-batches": (
        "target",
        signal.SIGTERM,
        40,
        lambda p, c: c.posts() >= c.base + 3,
    ),
    "sigterm-target-while-draining": (
        "target",
        signal.SIGTERM,
        250,
        lambda p, c: "completed processing" in (p.workdir / "target.log").read_text(),
    ),
}


def copied(record: dict[str, Any]) -> dict[str, Any]:
    """The copyable fields of an account, numbers as JSON reads them back."""
    view = {k: record.get(k) for k in COPIED}
    view["customFields"] = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (record.get("customFields") or {}).items()
    }
    return view


def bookmark(state: dict[str, Any]) -> datetime | None:
    """The `lastSync` the next run of the tap sends (None: it reads every account)."""
    value = state.get("bookmarks", {}).get("accounts", {}).get("replication_key_value")
    return None if value is None else datetime.fromisoformat(value)


def assert_exit_codes(who: str, how: int, tap_code: int, target_code: int, tap_done: bool) -> None:
    """A killed process exits non-zero; the other one, only if its work was cut short."""
    if who == "tap":
        assert tap_code == -signal.SIGKILL
        # The target saw the input end: it delivered what it had and confirmed the tap's state.
        assert target_code == 0
        return
    if how == signal.SIGKILL:
        assert target_code == -signal.SIGKILL
    else:
        # A run stopped early must not look like a success (issue 14, item 9).
        assert target_code != 0, "target-recotap exited 0 after SIGTERM"
    # The tap still writing met a broken pipe: it must fail, not end as if all was delivered.
    assert (tap_code == 0) if tap_done else (tap_code != 0), tap_code


def assert_nothing_before_the_state_is_missing(
    pipeline: Pipeline, emitted: list[dict[str, Any]], dest: dict[str, dict[str, Any]]
) -> int:
    """Every record ahead of the last STATE the target emitted is in the destination, as sent.

    Returns how many records that covered.
    """
    if not emitted:
        return 0
    confirmed = records_before(pipeline.tap_messages, emitted[-1])
    wrong = [r["domain"] for r in confirmed if dest.get(r["domain"]) != copied(r)]
    assert wrong == [], (
        f"{len(wrong)} records before the last STATE are not in Recotap: {wrong[:5]}"
    )
    return len(confirmed)


def assert_the_bookmark_skips_nothing(
    state: dict[str, Any], source: SandboxProcess, dest: dict[str, dict[str, Any]]
) -> int:
    """Every source account the destination lacks (or holds stale) is at or after the bookmark
    the next run resumes from, so that run reads it. Returns how many accounts that covered."""
    since = bookmark(state)
    behind = [a for a in source.admin.dump()["accounts"] if dest.get(a["domain"]) != copied(a)]
    if since is not None:
        skipped = [a["domain"] for a in behind if datetime.fromisoformat(a["updatedAt"]) < since]
        assert skipped == [], f"the next run would skip {len(skipped)} accounts: {skipped[:5]}"
    return len(behind)


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
    who, how, latency_ms, when = KILLS[kill]
    sandbox.admin.set_faults(latency_ms=latency_ms)
    copy.base = copy.posts()
    pipeline = copy.start(first_state)
    wait_until(lambda: when(pipeline, copy), timeout=60, step=0.005)
    tap_done = pipeline.tap.poll() is not None
    pipeline.kill(who, how)
    tap_code, target_code = pipeline.wait()
    copy.logs += pipeline.logs()
    emitted = pipeline.states
    sandbox.admin.clear_faults()
    if who == "tap":
        assert emitted, "the target emitted no STATE after its input ended"
    resume_from = emitted[-1] if emitted else first_state
    dest = copied_view(sandbox)
    confirmed = assert_nothing_before_the_state_is_missing(pipeline, emitted, dest)
    behind = assert_the_bookmark_skips_nothing(resume_from, source, dest)

    change_source(source, 2)
    copy.complete(resume_from)

    assert copied_view(sandbox) == copied_view(source)
    secrets_absent(sandbox.api_key, copy.logs, *(json.dumps(s) for s in emitted))
    secrets_absent(source.api_key, copy.logs)
    figures(
        record_property,
        f"crash {kill}: {signal.Signals(how).name} to the {who} (tap exit {tap_code}, target "
        f"exit {target_code}), {len(emitted)} STATE emitted, {confirmed} records before the "
        f"last one all in Recotap, {behind} accounts behind all at or after the resume "
        f"bookmark, destination had {len(dest)} of {len(copied_view(source))} accounts; "
        f"{copy.runs} runs",
    )
    # Last, so a wrong exit code does not hide what the data checks above would find.
    assert_exit_codes(who, how, tap_code, target_code, tap_done)
