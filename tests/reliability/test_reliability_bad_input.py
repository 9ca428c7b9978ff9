"""Bad input: each kind gets a clear outcome, and no good record is lost (issue 6, item 3).

The real `target-recotap` command reads one Singer input that mixes good records with bad ones
of every kind below; the sandbox dump, the failed-records file, the log and the exit code are
checked. Inputs that break the stream itself (a non-JSON line, a RECORD before its SCHEMA) end
the run; those are checked on their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import (
    TARGET,
    Finished,
    account,
    activity,
    custom_keys,
    expected_account,
    figures,
    run_plugin,
    schema_line,
    secrets_absent,
    write_config,
)

from recotap_sandbox.control import SandboxProcess

HUGE = "x" * 200_000


def deal(i: int, **changes: Any) -> dict[str, Any]:
    """A valid deal, with `changes`."""
    return {
        "externalDealId": f"deal-{i}",
        "name": f"Deal {i}",
        "amount": 1000 + i,
        "closedDate": "2026-03-01",
        "ownerEmail": "owner@seller.example",
        "associatedAccounts": [{"domain": f"good-{i:07d}.example.com"}],
        **changes,
    }


def without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}


# (kind, stream, record, outcome, words the reason must contain)
REFUSED_OR_FAILED: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "missing domain",
        "accounts",
        without(account(1, "bad"), "domain"),
        "refused",
        "domain is required",
    ),
    ("missing name", "accounts", without(account(2, "bad"), "name"), "refused", "name is required"),
    (
        "empty domain",
        "accounts",
        account(3, "bad") | {"domain": ""},
        "refused",
        "domain is required",
    ),
    ("empty name", "accounts", account(4, "bad") | {"name": ""}, "refused", "name is required"),
    (
        "domain that is only a scheme",
        "accounts",
        account(5, "bad") | {"domain": "https://"},
        "refused",
        "domain",
    ),
    (
        "wrong type: name",
        "accounts",
        account(6, "bad") | {"name": 123},
        "refused",
        "name must be a string",
    ),
    (
        "wrong type: tags",
        "accounts",
        account(7, "bad") | {"tags": "vip"},
        "refused",
        "tags must be a list of strings",
    ),
    (
        "wrong type: customFields",
        "accounts",
        account(8, "bad") | {"customFields": ["x"]},
        "refused",
        "customFields must be an object",
    ),
    (
        "unknown custom-field key",
        "accounts",
        account(9, "bad") | {"customFields": {"NO_SUCH_FIELD_C": "x"}},
        "failed",
        "NO_SUCH_FIELD_C",
    ),
    (
        "custom-field value of the wrong type",
        "accounts",
        account(10, "bad") | {"customFields": {"ANNUAL_REVENUE_C": "lots"}},
        "failed",
        "ANNUAL_REVENUE_C",
    ),
    (
        "invalid e-mail",
        "sales_activities",
        activity(1, "bad") | {"ownerEmail": "rep-at-seller"},
        "refused",
        "ownerEmail must be an e-mail",
    ),
    (
        "invalid contact e-mail",
        "sales_activities",
        activity(2, "bad") | {"contacts": [{"email": "nobody"}]},
        "refused",
        "contacts[0].email must be an e-mail",
    ),
    (
        "non-ISO date",
        "sales_activities",
        activity(3, "bad") | {"occurredAt": "15/01/2026 10:00"},
        "refused",
        "occurredAt must be an ISO-8601",
    ),
    (
        "impossible date",
        "sales_activities",
        activity(4, "bad") | {"occurredAt": "2026-02-30T10:00:00Z"},
        "refused",
        "occurredAt must be an ISO-8601",
    ),
    (
        "activity with no contacts",
        "sales_activities",
        activity(5, "bad") | {"contacts": []},
        "refused",
        "contacts needs at least 1",
    ),
    (
        "bad call direction",
        "sales_activities",
        activity(7, "bad") | {"direction": "sideways"},
        "refused",
        "direction must be one of inbound, outbound",
    ),
    (
        "non-ISO deal date",
        "deals",
        deal(90, closedDate="next Tuesday"),
        "refused",
        "closedDate must be an ISO-8601",
    ),
    ("wrong type: amount", "deals", deal(91, amount="1k"), "refused", "amount must be a number"),
    (
        "invalid deal owner e-mail",
        "deals",
        deal(92, ownerEmail="owner@"),
        "refused",
        "ownerEmail must be an e-mail",
    ),
]

SAME_DOMAIN = "HTTPS://WWW.Good-0000003.Example.com/about?x=1"


def good_accounts() -> list[dict[str, Any]]:
    """Good accounts, edge cases included (each must land exactly as normalised)."""
    records = [account(i, "good") for i in range(250)]
    records[10]["customFields"] = None  # null customFields: no custom field is written
    records[11]["externalId"] = ""  # an empty optional string counts as absent: never sent
    records[12] |= {"domain": "Bücher.Example", "name": "Bücher GmbH — 書店 ✓"}  # unicode, IDN
    records[13] |= {"domain": "xn--mnchen-3ya.example", "name": "München (punycode)"}
    records[14]["name"] = HUGE  # a huge string
    # The same domain as records[3], spelled with case, www., scheme, path and query: the later
    # record wins, one account.
    records.append(account(3, "good") | {"domain": SAME_DOMAIN, "name": "Renamed 3"})
    return records


def expected_accounts(records: list[dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any]]:
    """What a user reads back, every active custom field included (null when unset)."""
    expected: dict[str, dict[str, Any]] = {}
    for record in records:
        domain = record["domain"].lower()
        domain = "good-0000003.example.com" if record["domain"] == SAME_DOMAIN else domain
        expected[domain] = {
            "name": record["name"],
            "externalId": record["externalId"] or None,  # "" is absent, so never stored
            "customFields": expected_account(record, keys)["customFields"],
        }
    return expected


def stream(name: str, key: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SCHEMA without key properties (a record missing a declared key breaks the stream: see
    test_inputs_that_break_the_stream_*), then the records."""
    return [schema_line(name, key) | {"key_properties": []}] + [
        {"type": "RECORD", "stream": name, "record": r} for r in records
    ]


def mixed(good: list[dict[str, Any]], bad: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bad records spread among the good ones."""
    out = list(good)
    for i, record in enumerate(bad):
        out.insert((i * 37) % (len(out) + 1), record)
    return out


def bad_of(stream_name: str) -> list[dict[str, Any]]:
    return [record for _, s, record, _, _ in REFUSED_OR_FAILED if s == stream_name]


def run_target(sandbox: SandboxProcess, tmp_path: Path, text: str, **settings: Any) -> Finished:
    source = tmp_path / "input.singer"
    source.write_text(text)
    config = write_config(
        tmp_path / "target.json",
        sandbox,
        failed_records_path=str(tmp_path / "failed.jsonl"),
        **settings,
    )
    with source.open("rb") as stdin:
        return run_plugin([TARGET, "--config", str(config)], stdin=stdin)


def lines(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def test_every_kind_of_bad_record_is_refused_with_its_reason_and_good_ones_all_land(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any
) -> None:
    sandbox.admin.reset(seed_accounts=0, seed=7)
    accounts_in = good_accounts()
    activities_in = [activity(i, "good") for i in range(120)]
    skipped = activity(6, "bad") | {"activityType": "meeting"}  # the API skips it (§4.11)
    deals_in = [deal(i) for i in range(30)]
    messages = [
        *stream("accounts", "domain", mixed(accounts_in, bad_of("accounts"))),
        *stream(
            "sales_activities",
            "externalActivityId",
            mixed(activities_in, [*bad_of("sales_activities"), skipped]),
        ),
        *stream("deals", "externalDealId", mixed(deals_in, bad_of("deals"))),
        {"type": "STATE", "value": {"bookmarks": {"input": {"offset": 1}}}},
    ]

    # batch_size_rows above every API cap (§2.7): clamped, never a whole-request 400.
    result = run_target(sandbox, tmp_path, lines(messages), batch_size_rows=500)

    dump = sandbox.admin.dump()
    stored = {a["domain"]: a for a in dump["accounts"]}
    assert len(stored) == len(dump["accounts"])
    assert {
        d: {
            "name": a["name"],
            "externalId": a["externalId"],
            "customFields": a["customFields"],
        }
        for d, a in stored.items()
    } == expected_accounts(accounts_in, custom_keys(sandbox))
    kept_activities = sorted(a["externalActivityId"] for a in dump["sales_activities"])
    assert kept_activities == sorted(a["externalActivityId"] for a in activities_in)
    assert sorted(d["externalDealId"] for d in dump["deals"]) == sorted(
        d["externalDealId"] for d in deals_in
    )
    stats = sandbox.admin.stats()
    sizes = stats["batch_sizes"]
    assert max(sizes["POST /api/v1/accounts"]) <= 100
    assert max(sizes["POST /api/v1/sales-activities"]) <= 50
    assert "400" not in stats["statuses"]  # no request ever went over a cap

    failed = [json.loads(line) for line in (tmp_path / "failed.jsonl").read_text().splitlines()]
    assert len(failed) == len(REFUSED_OR_FAILED)
    for kind, stream_name, record, outcome, words in REFUSED_OR_FAILED:
        sent = json.loads(json.dumps(record))
        entry = next(f for f in failed if f["stream"] == stream_name and f["record"] == sent)
        assert words in entry["reason"], (kind, entry["reason"])
        verb = "refused locally" if outcome == "refused" else "failed"
        assert f"{verb}: {entry['reason']}" in result.stderr, kind  # the log names it too
    assert "sales_activities: Recotap skipped bad-000006: " in result.stderr

    assert result.returncode == 1
    assert f"{len(REFUSED_OR_FAILED)} record(s) were refused or failed" in result.stderr
    assert "Everything else was delivered" in result.stderr
    assert result.states == [{"bookmarks": {"input": {"offset": 1}}}]
    secrets_absent(
        sandbox.api_key, result.stdout, result.stderr, (tmp_path / "failed.jsonl").read_text()
    )
    figures(
        record_property,
        f"bad input: {len(REFUSED_OR_FAILED)} bad records of {len(REFUSED_OR_FAILED)} kinds "
        f"refused/failed with reasons, 1 skipped by the API, "
        f"{len(accounts_in) + len(activities_in) + len(deals_in)} good records checked, exit "
        f"{result.returncode}, wall {result.seconds:.1f} s",
    )


BREAKS = {
    "non-JSON line": "this is not JSON\n",
    "RECORD before SCHEMA": json.dumps({"type": "RECORD", "stream": "deals", "record": deal(1)})
    + "\n",
    "record missing a declared key property": json.dumps(
        {"type": "RECORD", "stream": "accounts", "record": {"name": "No domain"}}
    )
    + "\n",
}
BREAK_ERRORS = {
    "non-JSON line": "this is not JSON",
    "RECORD before SCHEMA": "A record for stream 'deals' was encountered before a",
    "record missing a declared key property": "Record is missing one or more key_properties",
}


@pytest.mark.parametrize("kind", list(BREAKS))
def test_inputs_that_break_the_stream_end_the_run_clearly_and_confirm_nothing_unsent(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any, kind: str
) -> None:
    sandbox.admin.reset(seed_accounts=0, seed=7)
    before = [account(i, "ok") for i in range(150)]
    after = [account(i, "late") for i in range(20)]
    state = {"type": "STATE", "value": {"bookmarks": {"input": {"offset": 150}}}}
    head = [
        schema_line("accounts", "domain"),
        *({"type": "RECORD", "stream": "accounts", "record": r} for r in before),
        state,
    ]
    tail = [{"type": "RECORD", "stream": "accounts", "record": r} for r in after]

    result = run_target(sandbox, tmp_path, lines(head) + BREAKS[kind] + lines(tail))

    stored = sorted(a["domain"] for a in sandbox.admin.dump()["accounts"])
    assert result.returncode == 1
    assert BREAK_ERRORS[kind] in result.stderr
    # The SDK stops at once: the full batch already sent (100) stays delivered; the 50 records
    # pending behind it are not sent, and the STATE that followed them is never emitted, so a
    # re-run (after the input is fixed) sends them again. Nothing after the break is read.
    assert stored == sorted(r["domain"] for r in before[:100])
    assert result.states == []
    secrets_absent(sandbox.api_key, result.stdout, result.stderr)
    figures(
        record_property,
        f"bad input breaking the stream ({kind}): exit {result.returncode}, {len(stored)} of "
        f"{len(before)} earlier records delivered (full batches), no STATE emitted",
    )
