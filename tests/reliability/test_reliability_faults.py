"""Round trips through a faulty API: nothing lost, nothing duplicated (issue 6, item 1).

The sandbox injects 20% 5xx, 5% dropped connections, slow answers that outlast the client's
timeout (the server still writes them, late) and 429s with `Retry-After` from a rate limit the
client keeps running into. Half of the 5xx and drops happen after the write
(`after_write_share` 0.5): the client never learns that its batch landed, and sends it again.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import (
    TAP,
    TARGET,
    accounts,
    activity,
    by_domain,
    custom_keys,
    expected_account,
    figures,
    run_plugin,
    secrets_absent,
    singer_lines,
    stored_account,
    write_config,
    write_lines,
)

from recotap_sandbox.control import SandboxProcess

# Faults every request may meet. slow_ms > request_timeout: a slow answer is a client timeout
# (and a retry) while the server goes on to write the batch late.
FAULTS: dict[str, Any] = {
    "error_rate": 0.20,
    "drop_rate": 0.05,
    "slow_rate": 0.03,
    "slow_ms": 700,
    "after_write_share": 0.5,
    # Whenever a plugin sends faster than this, 429s come as the bucket runs dry.
    "rate_limit_rps": 25,
    "retry_after": 1,
}
# On top of the random faults, scripted ones make sure of what matters most whatever the timing:
# the first batch is written but its answer lost, twice over; then a burst of 429s.
PUSH_SCRIPT = ["503:after", "drop:after", 429, 429, 429]
CLIENT = {"request_timeout": 0.5, "max_retries": 15, "retry_base_delay": 0.01}
RETRY_LINE = re.compile(r"retrying in \d")
RETRY_AFTER_WAIT = "retrying in 1.00 s"  # FAULTS["retry_after"]
SUMMARY = re.compile(r"Summary (\w+): (.*) \((\d+) write requests\)")


def summary(stderr: str, stream: str) -> dict[str, int]:
    """The target's outcome counts for `stream`, from its summary log line."""
    for name, counts, _ in SUMMARY.findall(stderr):
        if name == stream:
            return {k: int(n) for n, k in (part.split(" ", 1) for part in counts.split(", "))}
    raise AssertionError(f"no summary line for {stream}")


def injected(sandbox: SandboxProcess) -> Counter[str]:
    """Faults the sandbox injected so far."""
    return Counter({k: v for k, v in sandbox.admin.stats()["faults_injected"].items() if v})


def push(sandbox: SandboxProcess, tmp_path: Path, name: str, lines: Any) -> Any:
    """Run target-recotap on Singer lines; return the finished process."""
    source = write_lines(tmp_path / f"{name}.singer", lines)
    config = write_config(tmp_path / f"{name}-target.json", sandbox, **CLIENT)
    with source.open("rb") as stdin:
        return run_plugin([TARGET, "--config", str(config)], stdin=stdin)


@pytest.mark.long
@pytest.mark.parametrize("fault_seed", [11, 22, 33])
def test_10000_accounts_round_trip_exactly_through_faults(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any, fault_seed: int
) -> None:
    sandbox.admin.reset(seed_accounts=0, seed=7)
    sandbox.admin.set_faults(seed=fault_seed, script=PUSH_SCRIPT, **FAULTS)
    sent = accounts(10_000)

    pushed = push(sandbox, tmp_path, "accounts", singer_lines("accounts", "domain", sent))
    push_faults = injected(sandbox)
    sandbox.admin.set_faults(script=[429, 429, 429])
    tap_config = write_config(tmp_path / "tap.json", sandbox, page_size=200, **CLIENT)
    pulled = run_plugin([TAP, "--config", str(tap_config)])
    all_faults = injected(sandbox)
    sandbox.admin.clear_faults()

    assert pushed.returncode == 0, pushed.stderr[-3000:]
    counts = summary(pushed.stderr, "accounts")
    assert counts.get("created", 0) + counts.get("updated", 0) == 10_000, counts
    assert set(counts) <= {"created", "updated"}, counts
    keys = custom_keys(sandbox)
    expected = by_domain(sent, lambda record: expected_account(record, keys))
    assert by_domain(sandbox.admin.dump()["accounts"], stored_account) == expected

    assert pulled.returncode == 0, pulled.stderr[-3000:]
    messages = [json.loads(line) for line in pulled.stdout.splitlines()]
    read = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "accounts"]
    assert len({r["rtp_aid"] for r in read}) == len(read) == 10_000
    narrow = ("domain", "name", "externalId", "customFields")
    assert by_domain(read, stored_account) == {
        domain: {k: (v if k in narrow else None) for k, v in view.items()}
        for domain, view in expected.items()
    }

    retries = len(RETRY_LINE.findall(pushed.stderr)) + len(RETRY_LINE.findall(pulled.stderr))
    # Every injected fault (a slow answer is a timeout here) cost exactly one retry.
    assert retries == sum(all_faults.values())
    assert all_faults["500"] + all_faults["502"] + all_faults["503"] > 0
    assert all_faults["429"] >= 6
    logs = pushed.stderr + pulled.stderr
    assert logs.count(RETRY_AFTER_WAIT) >= all_faults["429"]  # Retry-After was honoured
    assert all_faults["drop"] > 0
    assert all_faults["slow"] > 0
    assert push_faults["drop"] + push_faults["500"] + push_faults["502"] + push_faults["503"]
    secrets_absent(sandbox.api_key, pushed.stdout, pushed.stderr, pulled.stderr)
    figures(
        record_property,
        f"faults seed={fault_seed}: 10000 accounts pushed+pulled, faults injected "
        f"{dict(sorted(all_faults.items()))} (total {sum(all_faults.values())}), retries "
        f"{retries}, records checked {len(read) + len(expected)}, push {counts}, wall "
        f"{pushed.seconds + pulled.seconds:.1f} s",
    )


@pytest.mark.long
def test_2000_create_only_activities_exist_exactly_once_through_faults(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any
) -> None:
    sandbox.admin.set_faults(seed=44, script=PUSH_SCRIPT, **FAULTS)
    sent = [activity(i) for i in range(2000)]

    pushed = push(
        sandbox,
        tmp_path,
        "activities",
        singer_lines("sales_activities", "externalActivityId", sent),
    )
    faults = injected(sandbox)
    sandbox.admin.clear_faults()

    assert pushed.returncode == 0, pushed.stderr[-3000:]
    counts = summary(pushed.stderr, "sales_activities")
    # A retried batch whose first attempt was written comes back "already exists": existing.
    assert counts.get("created", 0) + counts.get("existing", 0) == 2000, counts
    assert counts.get("existing", 0) > 0, "no write was ever lost after the fact"
    stored = sandbox.admin.dump()["sales_activities"]
    ids = Counter(a["externalActivityId"] for a in stored)
    assert ids == Counter(a["externalActivityId"] for a in sent)  # each exactly once
    for original, kept in zip(
        sent, sorted(stored, key=lambda a: a["externalActivityId"]), strict=True
    ):
        assert {k: kept.get(k) for k in original if k != "occurredAt"} == {
            k: v for k, v in original.items() if k != "occurredAt"
        }
    retries = len(RETRY_LINE.findall(pushed.stderr))
    assert retries == sum(faults.values())
    assert faults["429"] >= 3
    assert pushed.stderr.count(RETRY_AFTER_WAIT) >= faults["429"]
    secrets_absent(sandbox.api_key, pushed.stdout, pushed.stderr)
    figures(
        record_property,
        f"faults activities: 2000 create-only activities, faults injected "
        f"{dict(sorted(faults.items()))} (total {sum(faults.values())}), retries {retries}, "
        f"records checked {len(stored)}, push {counts}, wall {pushed.seconds:.1f} s",
    )
