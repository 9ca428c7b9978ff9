"""CRM → Recotap → warehouse through `meltano run`, twice, every row of every stream compared.

The module plays two days of a scheduled job once (the `day` fixture), keeping what each step
left behind, and each test checks one promise against it:

day 1: seed the `crm` schema (demo/crm.py), push it (tap-postgres → target-recotap), push it
       again unchanged, let Recotap rescore, pull (tap-recotap → target-postgres);
day 2: change the CRM and match 20 unmapped accounts, push, Recotap rescores some accounts and a
       segment is archived, pull again (accounts incremental, the rest full table).

"What Recotap holds" is the sandbox's admin dump, narrowed to what the API shows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from warehouse_helpers import Pipeline

from demo import crm, reconcile, warehouse
from recotap_sandbox.domains import normalise_domain

pytestmark = [pytest.mark.long, pytest.mark.xdist_group("meltano")]

SEEDED = 300
MATCHED = 20
STATE_ID = "dev:tap-recotap-to-target-postgres"
CUSTOM_FIELD_COLUMNS = {
    "INDUSTRY_C": "industry",
    "ANNUAL_REVENUE_C": "annual_revenue",
    "ACCOUNT_OWNER_C": "owner_name",
}
# Fields the sandbox stamps on every write: a re-run may move them, nothing else.
WRITE_STAMPS = {"updatedAt", "createdAt", "rtp_last_account_date"}


@dataclass
class Day:
    """What each step of the two days left behind."""

    pipeline: Pipeline
    logs: dict[str, str] = field(default_factory=dict)
    dumps: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    failed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived_segment: str = ""
    matched: list[str] = field(default_factory=list)


def _tables(pipeline: Pipeline) -> dict[str, list[dict[str, Any]]]:
    return {
        stream: pipeline.sql(f"select * from recotap.{stream}")  # noqa: S608 (constants)
        for stream in ("accounts", "segments", "custom_fields", "unmapped_accounts")
    }


@pytest.fixture(scope="module")
def day(make_pipeline) -> Day:
    pipeline = make_pipeline(SEEDED)
    pipeline.sandbox.admin.insert_accounts(crm.KNOWN_TO_RECOTAP)
    with warehouse.connect(pipeline.server, pipeline.database) as db:
        crm.seed(db)
    result = Day(pipeline)
    admin = pipeline.sandbox.admin

    def step(name: str, run: Any, **env: str) -> None:
        failed_path = pipeline.failed_records.with_name(f"failed_{name}.jsonl")
        result.logs[name] = run(TARGET_RECOTAP_FAILED_RECORDS_PATH=str(failed_path), **env)
        text = failed_path.read_text() if failed_path.exists() else ""
        result.failed[name] = [json.loads(line) for line in text.splitlines()]
        result.dumps[name] = admin.dump()

    # Day 1
    result.dumps["before"] = admin.dump()
    step("push", pipeline.push)
    step("push_again", pipeline.push)
    admin.rescore(share=1.0)  # Recotap's scheduled scoring
    step("pull", pipeline.pull)
    result.tables["pull"] = _tables(pipeline)
    # Day 2
    with warehouse.connect(pipeline.server, pipeline.database) as db:
        crm.second_round(db, matches=MATCHED)
    result.matched = [r["domain"] for r in pipeline.sql("select domain from crm.account_matches")]
    step("push_day2", pipeline.push)
    admin.rescore(share=0.1)
    segment = next(s for s in result.dumps["push_day2"]["segments"] if _listed(s))
    admin.set_segment_status(segment["segmentId"], "archived")
    result.archived_segment = segment["segmentId"]
    step("pull_day2", pipeline.pull)
    result.tables["pull_day2"] = _tables(pipeline)
    return result


def _listed(segment: dict[str, Any]) -> bool:
    """Whether GET /segments shows it (§4.8: static, active or draft)."""
    return segment["type"] == "static" and segment["status"] in ("active", "draft")


# -- what the API shows, and what the warehouse holds, as comparable rows ------------------


def _utc_naive(stamp: str | None) -> datetime | None:
    """An API time as target-postgres stores it (timestamp without time zone, in UTC)."""
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None)


ACCOUNT_VALUES = (
    "externalId",
    "name",
    "domain",
    "rtp_account_score",
    "rtp_advertising_activity_score",
    "rtp_website_intent_score",
    "rtp_g2_intent_score",
    "rtp_bombora_intent_score",
    "rtp_journey_stage",
    "customFields",
)


def api_shows(dump: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per tap stream, {primary key: the values a user reads}, as the API shows them."""
    accounts = dump["accounts"]
    return {
        "accounts": {
            a["rtp_aid"]: {
                **{k: a[k] for k in ACCOUNT_VALUES},
                "rtp_last_account_date": _utc_naive(a["rtp_last_account_date"]),
            }
            for a in accounts
        },
        "segments": {
            s["segmentId"]: {"name": s["name"], "status": s["status"]}
            for s in dump["segments"]
            if _listed(s)
        },
        "custom_fields": {
            f["key"]: {k: f[k] for k in ("label", "labelType", "description", "options", "status")}
            for f in dump["custom_fields"]
            if f["status"] == "active"
        },
        # §4.4: the first 500 without an externalId, in rtp_aid order (the dump's order).
        "unmapped_accounts": {
            a["domain"]: {"name": a["name"]}
            for a in [a for a in accounts if a["externalId"] is None][:500]
        },
    }


KEYS = {"accounts": "rtp_aid", "segments": "segmentId", "custom_fields": "key"}


def assert_warehouse_holds_what_the_api_shows(
    tables: dict[str, list[dict[str, Any]]], dump: dict[str, Any]
) -> None:
    """Every row of every stream: nothing missing, nothing extra, no value stale."""
    for stream, expected in api_shows(dump).items():
        rows = tables[stream]
        key = KEYS.get(stream, "domain")
        loaded = {row[key]: row for row in rows}
        assert len(loaded) == len(rows), f"{stream}: duplicate keys in the warehouse"
        missing, extra = expected.keys() - loaded.keys(), loaded.keys() - expected.keys()
        assert not missing, f"{stream}: {len(missing)} row(s) missing, e.g. {sorted(missing)[:3]}"
        assert not extra, (
            f"{stream}: {len(extra)} row(s) Recotap no longer has: {sorted(extra)[:3]}"
        )
        for pk, values in expected.items():
            actual = {k: loaded[pk][k] for k in values}
            assert actual == values, f"{stream} {pk}: warehouse row differs from the API's"


# -- CRM → Recotap -------------------------------------------------------------------------


def crm_winners() -> dict[str, tuple[Any, ...]]:
    """The CRM accounts that can be sent, by Recotap's domain; a later row of a domain wins."""
    winners: dict[str, tuple[Any, ...]] = {}
    for row in crm.ACCOUNTS:
        _, name, website, *_ = row
        if name and website:
            winners[normalise_domain(website)] = row
    return winners


def test_every_crm_account_that_can_be_sent_is_in_recotap_under_its_normalised_domain(day):
    accounts = {a["domain"]: a for a in day.dumps["push"]["accounts"]}

    for domain, (crm_id, name, _, industry, revenue, owner) in crm_winners().items():
        account = accounts.get(domain)
        assert account is not None, f"{crm_id}: no Recotap account for {domain}"
        assert (account["externalId"], account["name"]) == (crm_id, name)
        sent = {"INDUSTRY_C": industry, "ANNUAL_REVENUE_C": revenue, "ACCOUNT_OWNER_C": owner}
        for key, value in sent.items():
            if value is not None:
                assert account["customFields"][key] == value, f"{crm_id} {key}"
    assert len(accounts) == SEEDED + len(crm.KNOWN_TO_RECOTAP) + len(crm_winners()) - 1
    # Spelled as a URL or in capitals in the CRM, stored by the API's normalised domain.
    assert {"northwind-analytics.com", "globex.io", "hooli.com", "initech.dev"} <= accounts.keys()


def test_crm_rows_that_cannot_be_sent_are_reported_with_their_reasons_and_never_sent(day):
    reasons = {
        (
            line["stream"],
            line["record"].get("externalId")
            or line["record"].get("externalDealId")
            or line["record"].get("externalActivityId"),
        ): line["reason"]
        for line in day.failed["push"]
    }

    assert reasons.keys() == {
        ("accounts", "CRM-009"),
        ("accounts", "CRM-010"),
        ("deals", "D-005"),
        ("sales_activities", "A-005"),
    }
    assert "domain" in reasons["accounts", "CRM-009"]
    assert "name" in reasons["accounts", "CRM-010"]
    assert "ownerEmail" in reasons["deals", "D-005"]
    assert "email" in reasons["sales_activities", "A-005"]
    dump = day.dumps["push"]
    assert "nameless.example.com" not in {a["domain"] for a in dump["accounts"]}
    assert "D-005" not in {d["externalDealId"] for d in dump["deals"]}
    assert "A-005" not in {a["externalActivityId"] for a in dump["sales_activities"]}


def test_a_null_in_the_crm_never_clears_a_value_recotap_holds(day):
    # Recotap knew vandelay.com with an industry; the CRM's row has industry NULL.
    before = next(a for a in day.dumps["before"]["accounts"] if a["domain"] == "vandelay.com")
    after = next(a for a in day.dumps["push"]["accounts"] if a["domain"] == "vandelay.com")

    assert before["customFields"]["INDUSTRY_C"] == "Retail"
    assert after["customFields"]["INDUSTRY_C"] == "Retail", "a NULL was sent and cleared it"
    assert (after["externalId"], after["customFields"]["ACCOUNT_OWNER_C"]) == (
        "CRM-007",
        "Emma Larsen",
    )


def test_two_crm_rows_for_one_domain_become_one_account_and_the_merge_is_reported(day):
    initech = [a for a in day.dumps["push"]["accounts"] if a["domain"] == "initech.dev"]
    warnings = [
        line
        for line in day.logs["push"].splitlines()
        if re.search(r"\[warning\s*\] target-recotap", line) and "initech.dev" in line
    ]

    assert [(a["externalId"], a["name"]) for a in initech] == [("CRM-008", "Initech (EMEA)")]
    assert warnings, "no WARNING names the domain whose earlier CRM row was superseded"
    assert any("CRM-003" in line and "CRM-008" in line for line in warnings), warnings


def test_deals_and_activities_are_linked_to_their_accounts_and_a_meeting_is_skipped(day):
    dump = day.dumps["push"]
    aid = {a["domain"]: a["rtp_aid"] for a in dump["accounts"]}
    deals = {d["externalDealId"]: d for d in dump["deals"]}
    activities = {a["externalActivityId"]: a for a in dump["sales_activities"]}

    assert deals.keys() == {"D-001", "D-002", "D-003", "D-004"}
    assert deals["D-001"]["stageLabel"] == "Negotiation"
    assert deals["D-001"]["associatedAccounts"][0]["rtp_aid"] == aid["northwind-analytics.com"]
    assert activities.keys() == {"A-001", "A-002", "A-003"}  # A-004 is a meeting (§4.11)
    assert activities["A-003"]["rtp_aid"] == aid["hooli.com"]  # sent as HOOLI.COM


def _without_stamps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k not in WRITE_STAMPS} for item in items]


def test_pushing_the_same_crm_again_changes_nothing_in_recotap(day):
    first, again = day.dumps["push"], day.dumps["push_again"]

    for collection in ("accounts", "deals", "sales_activities"):
        assert _without_stamps(again[collection]) == _without_stamps(first[collection])
    assert [line["reason"] for line in day.failed["push_again"]] == [
        line["reason"] for line in day.failed["push"]
    ]


# -- Recotap → warehouse -------------------------------------------------------------------


def test_the_first_pull_loads_every_row_of_every_stream(day):
    assert_warehouse_holds_what_the_api_shows(day.tables["pull"], day.dumps["pull"])
    assert len(day.tables["pull"]["accounts"]) == len(day.dumps["pull"]["accounts"])


def test_the_second_pull_reads_only_changed_accounts_and_leaves_nothing_stale(day):
    before = {a["rtp_aid"]: a["updatedAt"] for a in day.dumps["pull"]["accounts"]}
    changed = {
        a["rtp_aid"]
        for a in day.dumps["pull_day2"]["accounts"]
        if before.get(a["rtp_aid"]) != a["updatedAt"]
    }

    # The rows the second run wrote: new, or re-extracted (target-postgres's _sdc_extracted_at).
    extracted = {r["rtp_aid"]: r["_sdc_extracted_at"] for r in day.tables["pull"]["accounts"]}
    rewritten = {
        r["rtp_aid"]
        for r in day.tables["pull_day2"]["accounts"]
        if extracted.get(r["rtp_aid"]) != r["_sdc_extracted_at"]
    }
    assert 0 < len(changed) < len(before)
    assert rewritten == changed
    assert_warehouse_holds_what_the_api_shows(day.tables["pull_day2"], day.dumps["pull_day2"])
    bookmark = day.pipeline.state(STATE_ID)["singer_state"]["bookmarks"]["accounts"]
    assert bookmark["replication_key"] == "_sdc_sync_timestamp"
    last_change_before = max(datetime.fromisoformat(stamp) for stamp in before.values())
    assert datetime.fromisoformat(bookmark["replication_key_value"]) > last_change_before


def test_full_table_streams_drop_what_recotap_no_longer_returns(day):
    first, second = day.tables["pull"], day.tables["pull_day2"]
    segments = [{s["segmentId"] for s in tables["segments"]} for tables in (first, second)]
    unmapped = [{u["domain"] for u in tables["unmapped_accounts"]} for tables in (first, second)]

    assert day.archived_segment in segments[0]
    assert segments[1] == segments[0] - {day.archived_segment}
    assert set(day.matched) <= unmapped[0]
    assert not set(day.matched) & unmapped[1], "mapped accounts still listed as unmapped"
    mapped = {a["domain"]: a["externalId"] for a in second["accounts"]}
    assert all(mapped[domain].startswith("CRM-M-") for domain in day.matched)


def test_the_demos_reconciliation_accounts_for_every_row_and_flags_a_lost_one(day):
    pipeline = day.pipeline
    failed = pipeline.failed_records.with_name("failed_push_day2.jsonl")
    uri = pipeline.server.get_uri(database=pipeline.database)
    with psycopg.connect(uri) as db:  # one transaction, rolled back: the warehouse is shared
        checks = {c.stream: c for c in reconcile.reconcile(db, day.dumps["pull_day2"], failed)}
        db.execute("delete from recotap.segments where name = 'Expansion Q3'")
        after_loss = {c.stream: c for c in reconcile.reconcile(db, day.dumps["pull_day2"], failed)}
        db.rollback()

    assert [c.problems for c in checks.values() if c.problems] == []
    assert checks["crm.accounts → accounts"].explained == {"refused": 2, "merged (same domain)": 1}
    assert checks["crm.sales_activities → sales_activities"].explained == {
        "skipped by Recotap (meeting)": 1,
        "refused": 1,
    }
    assert after_loss["segments → recotap.segments"].problems
    assert "MISMATCH" in reconcile.render(list(after_loss.values()))
