"""1,000,000 accounts through the tap and through the target with flat memory (item 5).

Peak RSS (`ru_maxrss` from `os.wait4`, taken by a bare launcher so it is the plugin's own) of a
10,000-record run is compared with a 1,000,000-record run. Memory is bounded by one page (tap,
page_size 500) or one batch (target, 100 accounts), not by the record count: the 1M figure
must stay within max(+25%, +30 MiB) of the 10k figure. The slack covers what legitimately
grows with a run but not with its records: allocator fragmentation, the paginator's set of
seen cursors (2,000 short strings), per-stream counters and the interpreter's caches. A
per-record leak of even 100 bytes would add ~95 MiB at 1M and fail it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from reliability_helpers import (
    TAP,
    TARGET,
    Finished,
    account,
    figures,
    run_plugin,
    secrets_absent,
    singer_lines,
    write_config,
    write_lines,
)

from recotap_sandbox.control import SandboxProcess

SMALL, LARGE = 10_000, 1_000_000


def rss_bound_kib(small_kib: int) -> int:
    """The largest 1M peak RSS accepted for a 10k peak RSS of `small_kib`."""
    return max(int(small_kib * 1.25), small_kib + 30 * 1024)


@pytest.fixture
def big_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of its own: 1M accounts would bloat the shared one for later tests."""
    with SandboxProcess(api_key="volume-key-5e1b", args=["--seed-accounts", "0"]) as process:
        yield process


def pull(sandbox: SandboxProcess, tmp_path: Path, count: int) -> tuple[Finished, int]:
    """Seed `count` accounts, run the tap over them; return the run and the records checked."""
    sandbox.admin.reset(seed_accounts=count, seed=3)
    config = write_config(tmp_path / "tap.json", sandbox, page_size=500)
    output = tmp_path / "tap.singer"
    with output.open("wb") as stdout:
        run = run_plugin([TAP, "--config", str(config)], stdout=stdout)
    assert run.returncode == 0, run.stderr[-3000:]
    checked = check_accounts_output(output, count)
    output.unlink()
    return run, checked


def check_accounts_output(path: Path, count: int) -> int:
    """Every account exactly once: rtp_aids strictly increase (keyset order) and number `count`."""
    seen, last = 0, ""
    with path.open() as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] == "accounts":
                rtp_aid = message["record"]["rtp_aid"]
                assert rtp_aid > last, f"{rtp_aid} out of order or repeated"
                seen, last = seen + 1, rtp_aid
    assert seen == count
    return seen


@pytest.mark.long
def test_a_million_accounts_through_the_tap_in_flat_memory(
    big_sandbox: SandboxProcess, tmp_path: Path, record_property: Any
) -> None:
    small, _ = pull(big_sandbox, tmp_path, SMALL)
    large, checked = pull(big_sandbox, tmp_path, LARGE)

    assert large.max_rss_kib <= rss_bound_kib(small.max_rss_kib)
    secrets_absent(big_sandbox.api_key, small.stderr, large.stderr)
    figures(
        record_property,
        f"volume tap: peak RSS {small.max_rss_kib / 1024:.1f} MiB at 10k, "
        f"{large.max_rss_kib / 1024:.1f} MiB at 1M (bound "
        f"{rss_bound_kib(small.max_rss_kib) / 1024:.1f}); records checked {checked}; wall "
        f"{small.seconds:.1f} s / {large.seconds:.1f} s",
    )


def push(sandbox: SandboxProcess, tmp_path: Path, count: int) -> Finished:
    """Run the target on `count` new accounts into an empty sandbox."""
    sandbox.admin.reset(seed_accounts=0, seed=3)
    source = write_lines(
        tmp_path / "accounts.singer",
        singer_lines("accounts", "domain", (account(i) for i in range(count))),
    )
    config = write_config(tmp_path / "target.json", sandbox)
    with source.open("rb") as stdin:
        run = run_plugin([TARGET, "--config", str(config)], stdin=stdin)
    source.unlink()
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Summary accounts: {count} created ({count // 100} write requests)" in run.stderr
    batches = sandbox.admin.stats()["batch_sizes"]["POST /api/v1/accounts"]
    assert sum(batches) == count
    assert max(batches) == 100
    return run


def sample_is_stored(sandbox: SandboxProcess, count: int) -> int:
    """100 accounts spread over the run read back through the API, exactly as sent."""
    indexes = range(0, count, count // 100)
    domains = [account(i)["domain"] for i in indexes]
    response = requests.get(
        f"{sandbox.api_url}/accounts",
        params={"domains": json.dumps(domains), "limit": 500},
        headers={"X-Api-Key": sandbox.api_key},
        timeout=60,
    )
    response.raise_for_status()
    found = {a["domain"]: a for a in response.json()["data"]["data"]}
    for i in indexes:
        sent = account(i)
        assert found[sent["domain"]]["name"] == sent["name"]
        assert found[sent["domain"]]["externalId"] == sent["externalId"]
    return len(found)


@pytest.mark.long
def test_a_million_accounts_through_the_target_in_flat_memory(
    big_sandbox: SandboxProcess, tmp_path: Path, record_property: Any
) -> None:
    small = push(big_sandbox, tmp_path, SMALL)
    started = time.monotonic()
    large = push(big_sandbox, tmp_path, LARGE)
    total = time.monotonic() - started
    sampled = sample_is_stored(big_sandbox, LARGE)

    assert large.max_rss_kib <= rss_bound_kib(small.max_rss_kib)
    secrets_absent(big_sandbox.api_key, small.stdout, small.stderr, large.stdout, large.stderr)
    figures(
        record_property,
        f"volume target: peak RSS {small.max_rss_kib / 1024:.1f} MiB at 10k, "
        f"{large.max_rss_kib / 1024:.1f} MiB at 1M (bound "
        f"{rss_bound_kib(small.max_rss_kib) / 1024:.1f}); records checked {LARGE} counted "
        f"by the sandbox, {sampled} read back; wall {small.seconds:.1f} s / "
        f"{large.seconds:.1f} s (with input generation {total:.1f} s)",
    )
