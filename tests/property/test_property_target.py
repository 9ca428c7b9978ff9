"""Random Singer streams through target-recotap, against a sandbox injecting random faults.

Each example is a stream of accounts and sales activities, valid and invalid, with duplicate
keys, SCHEMA changes and STATE messages at random places, pushed twice through the target (in
this process, on the session sandbox, reset first) while the sandbox answers with random 5xx,
429s, dropped connections (half of them after it wrote) and latency. What must hold:

- every record is confirmed by the sandbox, or listed in the failed-records file with a reason:
  the valid ones are all stored exactly as sent (duplicates: the later wins, field by field),
  and the failed-records file lists exactly the invalid ones;
- when the target emits a STATE, everything ahead of it in the input is already confirmed or
  listed (checked at that very moment, from inside the target's stdout);
- a second run of the same input duplicates nothing and changes nothing: the same accounts and
  activities, only the invalid records listed once more.

Half of the examples make the target drain after every record (the SDK's periodic drain, due
every 5 minutes, brought forward), so STATE is also emitted mid-stream, not only at the end.
BATCH messages are left out: the target does not process them yet (issue 14, item 10).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recotap_sandbox.control import SandboxProcess
from target_recotap.target import TargetRecotap

# Domains valid accounts (and locally refused ones) use: few, so keys repeat. The first ones
# already exist in Recotap with values, so upserts merge into stored data.
EXISTING = [
    {
        "domain": f"existing-{i}.prop.example",
        "name": f"Existing {i}",
        "externalId": f"crm-existing-{i}",
        "customFields": {"NOTES_C": f"stored note {i}", "ANNUAL_REVENUE_C": 1000 * i},
    }
    for i in range(3)
]
DOMAINS = [a["domain"] for a in EXISTING] + [f"new-{i}.prop.example" for i in range(2)]
ACTIVITY_IDS = [f"act-{i}" for i in range(6)]
ACCOUNT_FIELDS = ("domain", "name", "externalId", "shortName", "linkedinUrl", "tags")

names = st.from_regex(r"[A-Za-z][A-Za-z0-9 éü—-]{0,15}", fullmatch=True)
custom_values = st.fixed_dictionaries(
    {},
    optional={
        "NOTES_C": names,
        "ACCOUNT_OWNER_C": st.from_regex(r"[a-z]{1,8}@example\.com", fullmatch=True),
        "ANNUAL_REVENUE_C": st.integers(0, 10**9),
    },
)
valid_accounts = st.fixed_dictionaries(
    {"domain": st.sampled_from(DOMAINS), "name": names, "customFields": custom_values},
    optional={
        "externalId": st.from_regex(r"crm-[0-9]{1,4}", fullmatch=True),
        "shortName": names,
        "tags": st.lists(names, max_size=3),
    },
)


def without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}


# Refused locally, before anything is sent: (record, the reason a user must read).
refused_accounts = st.one_of(
    valid_accounts.map(lambda r: (without(r, "domain"), "domain is required")),
    valid_accounts.map(lambda r: (without(r, "name"), "name is required")),
    valid_accounts.map(
        lambda r: (without(r, "domain", "name"), "domain is required; name is required")
    ),
    valid_accounts.map(lambda r: (r | {"name": 123}, "name must be a string (got 123)")),
    valid_accounts.map(
        lambda r: (r | {"domain": 7}, "domain must be a string (got 7)"),
    ),
    valid_accounts.map(
        lambda r: (r | {"tags": "vip"}, "tags must be a list of strings (got 'vip')")
    ),
    valid_accounts.map(
        lambda r: (r | {"customFields": ["x"]}, "customFields must be an object (got ['x'])")
    ),
)
# Sent, and failed by Recotap item by item: an unknown custom field, a value of the wrong type.
api_failed_custom_fields = st.sampled_from([{"NO_SUCH_FIELD_C": "x"}, {"ANNUAL_REVENUE_C": "lots"}])


def activity(activity_id: str, domain: str, kind: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "externalActivityId": activity_id,
        "activityType": kind,
        "occurredAt": "2026-03-01T10:00:00Z",
        "domain": domain,
        "ownerEmail": "rep@seller.example",
        "contacts": [{"email": "contact@buyer.example"}],
    }
    return record


valid_activities = st.builds(
    activity,
    st.sampled_from(ACTIVITY_IDS),
    st.sampled_from(DOMAINS),
    st.sampled_from(["call", "email"]),
)
refused_activities = st.one_of(
    valid_activities.map(
        lambda r: (
            r | {"ownerEmail": "rep-at-seller"},
            "ownerEmail must be an e-mail address (got 'rep-at-seller')",
        )
    ),
    valid_activities.map(lambda r: (r | {"contacts": []}, "contacts needs at least 1 item(s)")),
    valid_activities.map(lambda r: (r | {"contacts": "x"}, "contacts must be a list")),
    valid_activities.map(lambda r: (r | {"contacts": ["x"]}, "contacts[0] must be an object")),
    valid_activities.map(lambda r: (r | {"from": "x"}, "from must be an object")),
    valid_activities.map(
        lambda r: (
            r | {"from": {"name": "A", "email": "bad"}},
            "from.email must be an e-mail address (got 'bad')",
        )
    ),
    valid_activities.map(
        lambda r: (
            r | {"direction": "sideways"},
            "direction must be one of inbound, outbound (got 'sideways')",
        )
    ),
)

# One step of the input: ("kind", payload). Kinds: a record (valid, refused, api_failed) of a
# stream, a STATE, or a new SCHEMA for a stream (the target drains the old sink first).
steps = st.one_of(
    st.tuples(st.just("account"), valid_accounts),
    st.tuples(st.just("account_refused"), refused_accounts),
    st.tuples(st.just("account_api_failed"), api_failed_custom_fields),
    st.tuples(st.just("activity"), valid_activities),
    st.tuples(st.just("activity_refused"), refused_activities),
    st.tuples(st.just("state"), st.none()),
    st.tuples(st.just("schema"), st.sampled_from(["accounts", "sales_activities"])),
)
faults = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**16),
        "error_rate": st.sampled_from([0.0, 0.1, 0.3]),
        "drop_rate": st.sampled_from([0.0, 0.05, 0.15]),
        "latency_ms": st.sampled_from([0, 0, 5, 20]),
        "after_write_share": st.just(0.5),
        "retry_after": st.just(0),
        "script": st.lists(st.sampled_from(["429", "503:after", "drop:after", "ok"]), max_size=4),
    }
)
target_settings = st.fixed_dictionaries(
    {
        "batch_size_rows": st.integers(1, 8),
        "max_in_flight_batches": st.integers(1, 4),
        "drain_after_every_record": st.booleans(),
    }
)


@dataclass
class Input:
    """The Singer messages of one example and what each record is meant to become."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)  # every refused/failed record
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stream, outcome)
    # (record, outcome, the reason it must be listed with: None when Recotap words it)
    bad_outcomes: list[tuple[dict[str, Any], str, str | None]] = field(default_factory=list)
    schema_variant: Counter[str] = field(default_factory=Counter)

    def schema(self, stream: str) -> None:
        # No key properties: a record missing its key must be refused, not break the stream.
        # Each variant differs, so the target meets a schema change.
        variant = self.schema_variant[stream]
        self.schema_variant[stream] += 1
        properties = {f"variant_{variant}": {}}
        self.messages.append(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": {"properties": properties},
                "key_properties": [],
            }
        )

    def record(
        self,
        stream: str,
        record: dict[str, Any],
        outcome: str | None = None,
        reason: str | None = None,
    ) -> None:
        """A RECORD; `outcome` "refused" (locally) or "failed" (by the API) for an invalid one."""
        self.messages.append({"type": "RECORD", "stream": stream, "record": record})
        if outcome is not None:
            self.invalid.append(record)
            self.outcomes[stream, outcome] += 1
            self.bad_outcomes.append((record, outcome, reason))

    def text(self) -> str:
        return "".join(json.dumps(message) + "\n" for message in self.messages)


def build_input(chosen: list[tuple[str, Any]]) -> Input:
    built = Input()
    built.schema("accounts")
    built.schema("sales_activities")
    for number, (kind, payload) in enumerate(chosen):
        if kind == "state":
            built.messages.append({"type": "STATE", "value": {"bookmarks": {"crm": number}}})
        elif kind == "schema":
            built.schema(payload)
        elif kind == "account_api_failed":
            # A domain of its own: never coalesced with a valid record of the same batch.
            record = {
                "domain": f"bad-{number}.prop.example",
                "name": "Bad",
                "customFields": payload,
            }
            built.record("accounts", record, "failed")
        elif kind.endswith("_refused"):
            stream = "accounts" if kind.startswith("account") else "sales_activities"
            record, reason = payload
            built.record(stream, record, "refused", reason)
        else:
            built.record("accounts" if kind == "account" else "sales_activities", payload)
    return built


# --- what Recotap must hold ----------------------------------------------------------------


def account_view(account: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """An account as a user reads it back: every field, every active custom field."""
    view = {name: account.get(name) for name in ACCOUNT_FIELDS}
    custom = account.get("customFields") or {}
    view["customFields"] = {key: custom.get(key) for key in keys}
    return view


def upserted(before: dict[str, Any] | None, record: dict[str, Any], keys: list[str]) -> dict:
    """`before` after an upsert of `record`: sent fields replace, omitted ones are kept."""
    view = before or account_view({}, keys)
    merged = {**view, **{k: v for k, v in record.items() if k in ACCOUNT_FIELDS}}
    merged["customFields"] = {**view["customFields"], **(record.get("customFields") or {})}
    return merged


def account_histories(
    messages: list[dict[str, Any]],
    invalid: list[dict[str, Any]],
    keys: list[str],
    start: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """{domain: [(position, view Recotap holds once the record at position is delivered)]},
    from the views `start` (default: the EXISTING accounts)."""
    if start is None:
        start = {a["domain"]: account_view(a, keys) for a in EXISTING}
    history = {domain: [(-1, view)] for domain, view in start.items()}
    for position, message in enumerate(messages):
        record = message.get("record")
        if message["type"] != "RECORD" or message["stream"] != "accounts":
            continue
        if is_invalid(record, invalid):
            continue
        views = history.setdefault(record["domain"], [])
        views.append((position, upserted(views[-1][1] if views else None, record, keys)))
    return history


def expected_accounts(messages: list[dict[str, Any]], invalid: list[dict], keys: list[str]):
    """{domain: view} Recotap must hold once every account among `messages` is delivered."""
    return {d: views[-1][1] for d, views in account_histories(messages, invalid, keys).items()}


def is_invalid(record: dict[str, Any] | None, invalid: list[dict[str, Any]]) -> bool:
    return any(record is bad for bad in invalid)


def expected_activity_ids(messages: list[dict[str, Any]], invalid: list[dict]) -> set[str]:
    return {
        m["record"]["externalActivityId"]
        for m in messages
        if m["type"] == "RECORD"
        and m["stream"] == "sales_activities"
        and not is_invalid(m["record"], invalid)
    }


def canonical(records: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


class Recotap:
    """What the sandbox holds and what the failed-records file lists, read back as a user."""

    def __init__(self, sandbox: SandboxProcess, failed_path: Path) -> None:
        self.sandbox = sandbox
        self.failed_path = failed_path
        self.keys = [
            f["key"] for f in sandbox.admin.dump()["custom_fields"] if f["status"] == "active"
        ]

    def accounts(self) -> dict[str, dict[str, Any]]:
        dump = self.sandbox.admin.dump()["accounts"]
        assert len({a["domain"] for a in dump}) == len(dump), "an account exists twice"
        return {a["domain"]: account_view(a, self.keys) for a in dump}

    def activity_ids(self) -> list[str]:
        return [a["externalActivityId"] for a in self.sandbox.admin.dump()["sales_activities"]]

    def failed(self) -> list[dict[str, Any]]:
        if not self.failed_path.exists():
            return []
        return [json.loads(line) for line in self.failed_path.read_text().splitlines()]


# --- running the target ----------------------------------------------------------------------


class DrainingTarget(TargetRecotap):
    """target-recotap whose periodic drain (every 5 minutes) is due after every record."""

    _MAX_RECORD_AGE_IN_MINUTES: ClassVar[float] = -1.0


class StateWatch(io.StringIO):
    """The target's stdout: at each STATE it emits, checks what is ahead of it in the input."""

    def __init__(self, built: Input, recotap: Recotap) -> None:
        super().__init__()
        self.built, self.recotap = built, recotap
        self.start = recotap.accounts()  # what Recotap held before this run
        self.states: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.strip():
                self.states.append(json.loads(line))
                self.violations += self.unconfirmed_ahead(self.states[-1])
        return len(text)

    def unconfirmed_ahead(self, state: dict[str, Any]) -> list[str]:
        """Records ahead of `state` in the input that are neither in Recotap nor listed."""
        position = next(
            i
            for i, m in enumerate(self.built.messages)
            if m["type"] == "STATE" and m["value"] == state
        )
        ahead = self.built.messages[:position]
        invalid = self.built.invalid
        invalid_ahead = [m["record"] for m in ahead if is_invalid(m.get("record"), invalid)]
        problems = []
        listed = canonical([f["record"] for f in self.recotap.failed()])
        missing = Counter(canonical(invalid_ahead)) - Counter(listed)
        if missing:
            problems.append(f"STATE {state}: {sum(missing.values())} invalid records not listed")
        stored = self.recotap.accounts()
        histories = account_histories(self.built.messages, invalid, self.recotap.keys, self.start)
        for domain, views in histories.items():
            # The last record ahead of the STATE must be delivered; later ones may be too.
            last_ahead = max((i for i, (at, _) in enumerate(views) if at < position), default=None)
            if last_ahead is not None and stored.get(domain) not in [
                v for _, v in views[last_ahead:]
            ]:
                problems.append(f"STATE {state}: {domain} not confirmed as sent")
        absent = expected_activity_ids(ahead, self.built.invalid) - set(self.recotap.activity_ids())
        if absent:
            problems.append(f"STATE {state}: activities {sorted(absent)} not confirmed")
        return problems


class TargetLog(logging.Handler):
    """The lines target-recotap logs at INFO and above: ERROR ones apart."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        (self.errors if record.levelno >= logging.ERROR else self.lines).append(record.getMessage())


@dataclass
class Run:
    """One run of the target: its STATE watch, the target itself and its log."""

    watch: StateWatch
    target: TargetRecotap
    log: TargetLog


def run_target(built: Input, recotap: Recotap, config: dict[str, Any], *, drain: bool) -> Run:
    watch, log = StateWatch(built, recotap), TargetLog()
    logger = logging.getLogger("target-recotap")
    logger.addHandler(log)
    try:
        with contextlib.redirect_stdout(watch):
            target = (DrainingTarget if drain else TargetRecotap)(config=config)
            target.listen(io.StringIO(built.text()))
    finally:
        logger.removeHandler(log)
    assert target.exit_code == 0
    return Run(watch, target, log)


KEY_FIELDS = {"accounts": "domain", "sales_activities": "externalActivityId"}
WRITE_PATHS = {"accounts": "/api/v1/accounts", "sales_activities": "/api/v1/sales-activities"}


def write_requests(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """{stream: write requests the sandbox received between two stats readings}."""
    return {
        stream: sum(
            n - before.get(route, 0)
            for route, n in after.items()
            if route.split(" ")[0] in {"POST", "PUT", "PATCH"} and route.split(" ")[1] == path
        )
        for stream, path in WRITE_PATHS.items()
    }


SUMMARY_ORDER = (
    "created",
    "updated",
    "existing",
    "skipped",
    "failed",
    "refused",
    "superseded",
    "would_send",
)


def assert_failures_reported(run: Run, built: Input, failed: list[dict[str, Any]]) -> None:
    """What a user reads about bad records: counts, one log line each, whole file lines."""
    report = run.target.run.report
    for stream in KEY_FIELDS:
        counts = report.counts(stream)
        for outcome in ("refused", "failed"):
            assert counts.get(outcome, 0) == built.outcomes[stream, outcome], (stream, counts)
    assert report.failures() == len(built.invalid)
    assert len(run.log.errors) == len(failed) == len(built.invalid)
    expected = {json.dumps(r, sort_keys=True): (o, why) for r, o, why in built.bad_outcomes}
    for line in failed:
        assert set(line) == {"stream", "record", "reason", "time"}
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
        record, stream = line["record"], line["stream"]
        outcome, reason = expected[json.dumps(record, sort_keys=True)]
        assert line["reason"] == reason if reason else line["reason"]
        assert built.outcomes[stream, outcome]  # listed under the stream it came in
        # Refused: the key as the record had it; failed by the API: the key sent.
        key = record.get(KEY_FIELDS[stream])
        name = repr(key) if key not in (None, "") else f"(no {KEY_FIELDS[stream]})"
        name = name if outcome == "refused" else str(key)
        verb = "refused locally" if outcome == "refused" else "failed"
        assert f"{stream}: record {name} {verb}: {line['reason']}" in run.log.errors


def assert_summary_lines(run: Run, write_requests: dict[str, int]) -> None:
    """The "Summary <stream>: ..." lines: every outcome count, and the write requests made."""
    report = run.target.run.report
    for stream in report.streams():
        counts = report.counts(stream)
        parts = [f"{counts[name]} {name}" for name in SUMMARY_ORDER if counts.get(name)]
        shown = ", ".join(parts) or "no records"
        expected = f"Summary {stream}: {shown} ({write_requests[stream]} write requests)"
        assert expected in run.log.lines, (expected, [x for x in run.log.lines if "Summary" in x])


NO_FAULTS = {
    "seed": 0,
    "error_rate": 0.0,
    "drop_rate": 0.0,
    "latency_ms": 0,
    "after_write_share": 0.5,
    "retry_after": 0,
    "script": [],
}


@settings(settings.get_profile("recotap"))
# Cases that must be tried on every run, whatever the random search finds:
# two records of one domain in one batch, each with custom fields of its own (merged per key);
@example(
    chosen=[
        ("account", {"domain": DOMAINS[0], "name": "A", "customFields": {"NOTES_C": "n"}}),
        ("account", {"domain": DOMAINS[0], "name": "B", "customFields": {"ANNUAL_REVENUE_C": 5}}),
        ("state", None),
    ],
    fault_settings=NO_FAULTS,
    options={"batch_size_rows": 8, "max_in_flight_batches": 1, "drain_after_every_record": False},
)
# Every kind of refused activity, each listed with its own reason.
@example(
    chosen=[
        ("activity_refused", (activity("act-0", DOMAINS[0], "call") | change, reason))
        for change, reason in [
            ({"from": "x"}, "from must be an object"),
            ({"contacts": "x"}, "contacts must be a list"),
            ({"contacts": ["x"]}, "contacts[0] must be an object"),
            ({"from": {"email": "bad"}}, "from.email must be an e-mail address (got 'bad')"),
        ]
    ],
    fault_settings=NO_FAULTS,
    options={"batch_size_rows": 8, "max_in_flight_batches": 2, "drain_after_every_record": False},
)
# STATE between batches still in flight on a slow API, then a refused duplicate.
@example(
    chosen=[
        *(("account", {"domain": d, "name": "A", "customFields": {}}) for d in DOMAINS),
        ("state", None),
        (
            "account_refused",
            ({"domain": DOMAINS[1], "name": 123}, "name must be a string (got 123)"),
        ),
        ("activity", activity("act-0", DOMAINS[1], "call")),
        ("state", None),
    ],
    fault_settings=NO_FAULTS | {"latency_ms": 30, "script": ["503:after"]},
    options={"batch_size_rows": 1, "max_in_flight_batches": 4, "drain_after_every_record": True},
)
@given(
    chosen=st.lists(steps, min_size=5, max_size=60),
    fault_settings=faults,
    options=target_settings,
)
def test_every_record_is_confirmed_or_listed_and_state_waits_for_them(
    sandbox_process: SandboxProcess,
    tmp_path_factory: Any,
    chosen: list[tuple[str, Any]],
    fault_settings: dict[str, Any],
    options: dict[str, Any],
) -> None:
    sandbox = sandbox_process
    sandbox.admin.reset(seed_accounts=0, seed=7)
    sandbox.admin.clear_faults()
    sandbox.admin.insert_accounts(EXISTING)
    # In folders that do not exist yet: the target creates them.
    failed_path = tmp_path_factory.mktemp("property") / "out" / "target" / "failed.jsonl"
    recotap = Recotap(sandbox, failed_path)
    built = build_input(chosen)
    drain = options["drain_after_every_record"]
    config = {
        "api_key": sandbox.api_key,
        "api_url": sandbox.api_url,
        "retry_base_delay": 0.001,
        "max_retries": 20,
        "request_timeout": 5,
        "failed_records_path": str(failed_path),
        "max_failed_records": 10_000,
        "batch_size_rows": options["batch_size_rows"],
        "max_in_flight_batches": options["max_in_flight_batches"],
    }
    sandbox.admin.set_faults(**fault_settings)

    first = run_target(built, recotap, config, drain=drain)
    sandbox.admin.clear_faults()
    accounts, activities, failed = recotap.accounts(), recotap.activity_ids(), recotap.failed()

    assert first.watch.violations == []
    assert accounts == expected_accounts(built.messages, built.invalid, recotap.keys)
    assert sorted(activities) == sorted(expected_activity_ids(built.messages, built.invalid))
    assert canonical([f["record"] for f in failed]) == canonical(built.invalid)
    assert all(f["reason"] for f in failed)
    assert_failures_reported(first, built, failed)
    input_states = [m["value"] for m in built.messages if m["type"] == "STATE"]
    if input_states:
        assert first.watch.states[-1] == input_states[-1]

    # Without faults, so each request the sandbox counts is one the target made.
    before = sandbox.admin.stats()["requests"]
    second = run_target(built, recotap, config, drain=drain)
    after = sandbox.admin.stats()["requests"]

    assert second.watch.violations == []
    assert_summary_lines(second, write_requests(before, after))
    assert recotap.accounts() == accounts
    assert sorted(recotap.activity_ids()) == sorted(activities)
    assert canonical([f["record"] for f in recotap.failed()]) == canonical(built.invalid * 2)


def test_a_batch_failing_in_flight_stops_the_run_before_any_state_passes_it(
    sandbox_process: SandboxProcess, tmp_path_factory: Any
) -> None:
    # Not a property: the one way a batch sent in the background fails for good (retries
    # exhausted), which the random faults above never reach.
    sandbox = sandbox_process
    sandbox.admin.reset(seed_accounts=0, seed=7)
    recotap = Recotap(sandbox, tmp_path_factory.mktemp("property") / "failed.jsonl")
    chosen: list[tuple[str, Any]] = [
        ("account", {"domain": f"new-{i}.prop.example", "name": "A", "customFields": {}})
        for i in range(2)
    ]
    built = build_input([chosen[0], ("state", None), chosen[1], ("state", None)])
    # Slow answers keep batches in flight (not sent inline); the second batch meets only 503s.
    sandbox.admin.set_faults(latency_ms=30, script=["ok", "503", "503", "503"])
    config = {
        "api_key": sandbox.api_key,
        "api_url": sandbox.api_url,
        "retry_base_delay": 0.001,
        "max_retries": 3,
        "batch_size_rows": 1,
        "max_in_flight_batches": 4,
        "failed_records_path": str(recotap.failed_path),
    }
    watch = StateWatch(built, recotap)

    with contextlib.redirect_stdout(watch):
        target = DrainingTarget(config=config)
        with pytest.raises(Exception, match="503"):
            target.listen(io.StringIO(built.text()))
    sandbox.admin.clear_faults()

    assert watch.violations == []
    assert {"bookmarks": {"crm": 3}} not in watch.states  # the STATE after the failed record
