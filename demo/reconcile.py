"""Every row accounted for: the CRM against Recotap, and Recotap against the warehouse.

CRM → Recotap: each CRM row is either in Recotap with the values it was sent, refused (in the
failed-records file, with the reason), merged into a later row of the same domain, or skipped
by Recotap (activity types it does not take). Recotap → warehouse: each stream's table holds
exactly the rows the API shows, with the values a user reads (scores, stage, externalId,
customFields), nothing missing, nothing extra, nothing stale. "What Recotap holds" is the
sandbox's admin dump, narrowed to what the API shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recotap_sandbox.domains import normalise_domain

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import psycopg

    Db = psycopg.Connection[tuple[Any, ...]]

# §4.11: Recotap stores calls and e-mails; other activity types are skipped, not refused.
STORED_ACTIVITY_TYPES = ("call", "email")
# §4.4: one call, at most 500 unmapped accounts (the tap's limit).
UNMAPPED_LIMIT = 500


@dataclass
class Check:
    """One stream in one direction: rows on each side, and what explains the difference."""

    stream: str
    source_rows: int = 0
    destination_rows: int = 0
    explained: dict[str, int] = field(default_factory=dict)  # e.g. {"refused": 2}
    problems: list[str] = field(default_factory=list)

    def explain(self, why: str) -> None:
        """Count one source row that is, rightly, not a destination row of its own."""
        self.explained[why] = self.explained.get(why, 0) + 1


# The key target-recotap's failed-records file is read by, per stream.
REFUSED_KEYS = {
    "accounts": "externalId",
    "deals": "externalDealId",
    "sales_activities": "externalActivityId",
    "external_id_mappings": "domain",
}


def refused_by_stream(failed_records: Path) -> dict[str, dict[str, str]]:
    """The failed-records file as {stream: {record key: reason}} (last line of a key wins)."""
    refused: dict[str, dict[str, str]] = {}
    lines = failed_records.read_text().splitlines() if failed_records.exists() else []
    for line in lines:
        entry = json.loads(line)
        key = entry["record"].get(REFUSED_KEYS.get(entry["stream"], "domain"))
        refused.setdefault(entry["stream"], {})[str(key)] = entry["reason"]
    return refused


def _rows(db: Db, query: str) -> list[dict[str, Any]]:
    with db.cursor() as cursor:
        cursor.execute(query)  # our own constant queries
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- CRM → Recotap -------------------------------------------------------------------------


def crm_accounts(db: Db, dump: dict[str, Any], refused: dict[str, str]) -> Check:
    """crm.accounts against Recotap's accounts, by normalised domain."""
    check = Check("crm.accounts → accounts")
    rows = _rows(db, "select * from crm.accounts order by crm_account_id")
    check.source_rows = len(rows)
    by_domain = {a["domain"]: a for a in dump["accounts"]}
    winners: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["crm_account_id"] in refused:
            check.explain("refused")
            continue
        domain = normalise_domain(row["website"])
        if domain in winners:
            check.explain("merged (same domain)")
        winners[domain] = row  # the later row of a domain wins, as target-recotap sends it
    check.destination_rows = sum(1 for domain in winners if domain in by_domain)
    for domain, row in winners.items():
        account = by_domain.get(domain)
        sent = (row["crm_account_id"], row["account_name"])
        if account is None or (account["externalId"], account["name"]) != sent:
            check.problems.append(f"{row['crm_account_id']} ({domain}) not in Recotap as sent")
    return check


def crm_keyed(
    db: Db, table: str, key: str, stored: Iterable[dict[str, Any]], api_key: str
) -> Check:
    """A CRM table whose rows Recotap stores under the CRM's own id (deals, activities)."""
    check = Check(f"crm.{table}")
    rows = _rows(db, f"select * from crm.{table}")  # noqa: S608 (our table names)
    check.source_rows = len(rows)
    held = {item[api_key] for item in stored}
    check.destination_rows = sum(1 for row in rows if row[key] in held)
    return check


def crm_deals(db: Db, dump: dict[str, Any], refused: dict[str, str]) -> Check:
    """crm.deals against Recotap's deals: each deal stored with its stage, or refused."""
    check = crm_keyed(db, "deals", "crm_deal_id", dump["deals"], "externalDealId")
    check.stream += " → deals"
    stages = {d["externalDealId"]: d.get("stageLabel") for d in dump["deals"]}
    for row in _rows(db, "select crm_deal_id, stage from crm.deals"):
        if row["crm_deal_id"] in refused:
            check.explain("refused")
        elif stages.get(row["crm_deal_id"], "missing") != row["stage"]:
            check.problems.append(f"deal {row['crm_deal_id']} not in Recotap as sent")
    return check


def crm_activities(db: Db, dump: dict[str, Any], refused: dict[str, str]) -> Check:
    """crm.sales_activities against Recotap's: stored, refused, or skipped by type."""
    check = crm_keyed(
        db, "sales_activities", "crm_activity_id", dump["sales_activities"], "externalActivityId"
    )
    check.stream += " → sales_activities"
    held = {a["externalActivityId"] for a in dump["sales_activities"]}
    for row in _rows(db, "select crm_activity_id, activity_type from crm.sales_activities"):
        if row["crm_activity_id"] in refused:
            check.explain("refused")
        elif row["activity_type"] not in STORED_ACTIVITY_TYPES:
            check.explain(f"skipped by Recotap ({row['activity_type']})")
        elif row["crm_activity_id"] not in held:
            check.problems.append(f"activity {row['crm_activity_id']} not in Recotap")
    return check


def crm_matches(db: Db, dump: dict[str, Any], refused: dict[str, str]) -> Check:
    """crm.account_matches against Recotap: each matched domain now carries the CRM id."""
    check = Check("crm.account_matches → external_id_mappings")
    rows = _rows(db, "select * from crm.account_matches")
    check.source_rows = len(rows)
    external_ids = {a["domain"]: a["externalId"] for a in dump["accounts"]}
    for row in rows:
        domain = normalise_domain(row["domain"])
        if row["domain"] in refused or domain in refused:
            check.explain("refused")
        elif external_ids.get(domain) == row["crm_account_id"]:
            check.destination_rows += 1
        else:
            check.problems.append(f"{domain} not mapped to {row['crm_account_id']}")
    return check


# -- Recotap → warehouse -------------------------------------------------------------------


def api_view(dump: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """What the API shows, per tap stream, keyed by the stream's primary key."""
    accounts = dump["accounts"]
    unmapped = [a for a in accounts if a["externalId"] is None][:UNMAPPED_LIMIT]
    return {
        "accounts": {a["rtp_aid"]: _account_values(a) for a in accounts},
        "segments": {
            s["segmentId"]: {"name": s["name"], "status": s["status"]}
            for s in dump["segments"]
            if s["type"] == "static" and s["status"] in ("active", "draft")
        },
        "custom_fields": {
            f["key"]: {"label": f["label"], "labelType": f["labelType"]}
            for f in dump["custom_fields"]
            if f["status"] == "active"
        },
        "unmapped_accounts": {a["domain"]: {"name": a["name"]} for a in unmapped},
    }


def _account_values(account: dict[str, Any]) -> dict[str, Any]:
    values = {
        k: account[k] for k in ("externalId", "name", "domain", "rtp_journey_stage", "customFields")
    }
    values["rtp_account_score"] = float(account["rtp_account_score"])
    return values


WAREHOUSE_KEYS = {
    "accounts": "rtp_aid",
    "segments": "segmentId",
    "custom_fields": "key",
    "unmapped_accounts": "domain",
}


def warehouse_view(db: Db) -> dict[str, dict[str, dict[str, Any]]]:
    """The `recotap` schema's tables, keyed like `api_view`, with the same values."""
    view: dict[str, dict[str, dict[str, Any]]] = {}
    for stream, key in WAREHOUSE_KEYS.items():
        rows = _rows(db, f"select * from recotap.{stream}")  # noqa: S608 (our table names)
        view[stream] = {}
        for row in rows:
            if stream == "accounts":
                row["rtp_account_score"] = float(row["rtp_account_score"])
            view[stream][row[key]] = row
    return view


def pulled(stream: str, expected: dict[str, dict[str, Any]], loaded: dict[str, Any]) -> Check:
    """One tap stream: every API row in the warehouse with its values, and nothing else."""
    check = Check(f"{stream} → recotap.{stream}", len(expected), len(loaded))
    missing = expected.keys() - loaded.keys()
    extra = loaded.keys() - expected.keys()
    stale = [
        key
        for key, values in expected.items()
        if key in loaded and any(loaded[key].get(k) != v for k, v in values.items())
    ]
    for what, keys in (("missing", missing), ("not in Recotap (stale)", extra), ("differ", stale)):
        if keys:
            check.problems.append(f"{len(keys)} row(s) {what}, e.g. {sorted(keys)[:3]}")
    return check


def reconcile(db: Db, dump: dict[str, Any], failed_records: Path) -> list[Check]:
    """Every stream in both directions."""
    refused = refused_by_stream(failed_records)
    checks = [
        crm_accounts(db, dump, refused.get("accounts", {})),
        crm_deals(db, dump, refused.get("deals", {})),
        crm_activities(db, dump, refused.get("sales_activities", {})),
        crm_matches(db, dump, refused.get("external_id_mappings", {})),
    ]
    expected, loaded = api_view(dump), warehouse_view(db)
    checks += [pulled(stream, expected[stream], loaded[stream]) for stream in WAREHOUSE_KEYS]
    return checks


def render(checks: list[Check]) -> str:
    """The reconciliation as a table; a line per problem under its stream."""
    lines = [f"{'stream':<46}{'source':>8}{'dest.':>8}  accounted for / problems"]
    for check in checks:
        explained = ", ".join(f"{n} {why}" for why, n in check.explained.items())
        status = "MISMATCH" if check.problems else "ok"
        lines.append(
            f"{check.stream:<46}{check.source_rows:>8}{check.destination_rows:>8}  "
            f"{status}{f' ({explained})' if explained else ''}"
        )
        lines.extend(f"{'':<4}! {problem}" for problem in check.problems)
    return "\n".join(lines)


HOTTEST_ACCOUNTS = """
select c.account_name, a.rtp_account_score as score, a.rtp_journey_stage as journey_stage,
       coalesce(string_agg(d.deal_name || ': ' || d.stage, '; '), '-') as crm_deals
from crm.accounts c
join recotap.accounts a on a."externalId" = c.crm_account_id
left join crm.deals d on d.crm_account_id = c.crm_account_id
group by c.account_name, a.rtp_account_score, a.rtp_journey_stage
order by a.rtp_account_score desc, c.account_name
limit 10
"""


def hottest_accounts(db: Db) -> list[dict[str, Any]]:
    """The CRM's accounts Recotap scores highest, with their journey stage and deals."""
    return _rows(db, HOTTEST_ACCOUNTS)
