"""Retries under injected faults, whole-request 400s, and STATE only after confirmation."""

from __future__ import annotations

import contextlib
import io
import json

from target_recotap.sinks import DealsSink
from target_recotap.target import TargetRecotap


def _accounts(count: int) -> list[dict]:
    return [{"domain": f"retry{i}.example.org", "name": f"R {i}"} for i in range(count)]


def _new_domains(sandbox) -> list[str]:
    accounts = sandbox.admin.dump()["accounts"]
    return [a["domain"] for a in accounts if a["domain"].startswith("retry")]


def test_accounts_survive_5xx_429_and_dropped_connections(harness, sandbox):
    sandbox.admin.set_faults(retry_after=0, script=[503, 429, "drop:before", "500:after", 502])

    result = harness.run(harness.stream("accounts", _accounts(150)), max_retries=6)

    counts = result.counts("accounts")
    assert counts.get("created", 0) + counts.get("updated", 0) == 150
    assert "failed" not in counts
    assert result.exit_code == 0
    assert sorted(_new_domains(sandbox)) == sorted(a["domain"] for a in _accounts(150))
    injected = sandbox.admin.stats()["faults_injected"]
    assert (injected["503"], injected["429"], injected["drop"]) == (1, 1, 1)


def test_a_lost_response_after_the_write_does_not_duplicate_or_fail_activities(harness, sandbox):
    activities = [
        {
            "externalActivityId": f"lost-{i}",
            "activityType": "call",
            "occurredAt": "2026-01-15T10:00:00Z",
            "domain": "example.org",
            "ownerEmail": "rep@example.com",
            "contacts": [{"email": "x@example.org"}],
        }
        for i in range(10)
    ]
    sandbox.admin.set_faults(script=["drop:after"])

    result = harness.run(harness.stream("sales_activities", activities))

    assert result.counts("sales_activities") == {"existing": 10}
    assert result.exit_code == 0
    assert len(sandbox.admin.dump()["sales_activities"]) == 10
    assert sandbox.admin.stats()["requests"]["POST /api/v1/sales-activities"] == 2


def test_no_state_is_emitted_when_the_api_never_confirms(harness, sandbox):
    messages = harness.stream("accounts", _accounts(130))
    messages.insert(101, harness.state({"bookmarks": {"accounts": {"replication_key_value": "1"}}}))
    messages.append(harness.state({"bookmarks": {"accounts": {"replication_key_value": "2"}}}))
    # The first full batch goes through; the last one never does.
    sandbox.admin.set_faults(retry_after=0, script=["ok", *["503:before"] * 4])

    result = harness.cli(messages)

    assert result.exit_code != 0
    assert result.states == []
    assert "still failing after 4 attempts" in result.stderr
    assert len(_new_domains(sandbox)) == 100


class _StateSpy(io.StringIO):
    """stdout for an in-process run: at each STATE line, notes which domains Recotap holds."""

    def __init__(self, sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.seen: list[tuple[dict, set[str]]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.seen.append((json.loads(line), set(_new_domains(self.sandbox))))
        return super().write(text)


def test_state_is_emitted_once_everything_before_it_was_confirmed(harness, sandbox, monkeypatch):
    records = _accounts(20)
    messages = [harness.schema("accounts", ["domain", "name"])]
    for position, record in enumerate(records, start=1):
        messages.append({"type": "RECORD", "stream": "accounts", "record": record})
        if position % 5 == 0:
            messages.append(harness.state({"records_before": position}))
    # The SDK drains every sink and emits the latest STATE every 5 minutes of a run; with 0 it
    # does so after every record, so this short run emits STATE mid-run, again and again.
    monkeypatch.setattr(TargetRecotap, "_MAX_RECORD_AGE_IN_MINUTES", 0)
    # Answers slower than the inline threshold: batches are sent by worker threads.
    sandbox.admin.set_faults(latency_ms=40)
    spy = _StateSpy(sandbox)

    target = TargetRecotap(config=harness.config())
    with contextlib.redirect_stdout(spy):
        target.listen(io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))

    assert len(spy.seen) >= 15  # one STATE per record read after the first STATE
    for state, stored in spy.seen:
        before = {r["domain"] for r in records[: state["records_before"]]}
        assert before <= stored, f"STATE {state} emitted before its records were confirmed"
    assert spy.seen[-1][0] == {"records_before": 20}
    assert len(_new_domains(sandbox)) == 20


def _pipeline(pid: str, stages: list[str]) -> dict:
    return {
        "pipelineId": pid,
        "pipelineLabel": pid,
        "stages": [{"stageId": s, "stageLabel": s.upper()} for s in stages],
    }


def test_an_unforeseen_whole_request_400_is_isolated_to_its_item(harness, sandbox):
    # A repeated stageId is a whole-request 400 without item positions (a business error).
    pipelines = [_pipeline("a", ["s1"]), _pipeline("b", ["s1", "s1"]), _pipeline("c", ["s1"])]

    result = harness.run(harness.stream("deal_stages", pipelines))

    assert result.counts("deal_stages") == {"created": 2, "failed": 1}
    assert result.failed[0]["record"]["pipelineId"] == "b"
    assert "Duplicate stageId in pipeline b" in result.failed[0]["reason"]
    assert sorted(p["pipelineId"] for p in sandbox.admin.dump()["pipelines"]) == ["a", "c"]


def test_a_400_naming_item_positions_fails_only_those_items(harness, sandbox, monkeypatch):
    # Local validation catches bad e-mails, so no request can reach this branch without
    # turning validation off: the sandbox then names the item (`deals.1.ownerEmail`).
    monkeypatch.setattr(DealsSink, "build_item", lambda _self, record: dict(record))
    deals = [
        {"externalDealId": "d0", "name": "ok"},
        {"externalDealId": "d1", "name": "bad", "ownerEmail": "nope"},
        {"externalDealId": "d2", "name": "ok"},
    ]

    result = harness.run(harness.stream("deals", deals))

    assert result.counts("deals") == {"created": 2, "failed": 1}
    assert "deals.1.ownerEmail" in result.failed[0]["reason"]
    assert "must be an email" in result.failed[0]["reason"]
    assert sandbox.admin.stats()["batch_sizes"]["POST /api/v1/deals"] == [3, 2]
