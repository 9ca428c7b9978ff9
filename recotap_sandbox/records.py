"""Deals, deal stages and sales activities (§4.9-§4.11): stored, never read back by the API."""

from __future__ import annotations

from typing import Any

from recotap_sandbox.clock import iso_ms
from recotap_sandbox.domains import normalise_domain
from recotap_sandbox.errors import BusinessError
from recotap_sandbox.store import Store, summarise

# §4.11: only these two types are processed.
ACTIVITY_TYPES = ("call", "email")


def _link(store: Store, domain: str | None) -> str | None:
    """The rtp_aid of the account a (normalised) domain names, or None."""
    if not domain:
        return None
    row = store.accounts.by_domain.get(domain)
    return None if row is None else store.accounts.aid(row)


def push_deals(store: Store, deals: list[dict[str, Any]]) -> dict[str, Any]:
    """``POST /deals``: upsert by externalDealId (§4.9).

    Our response shape (§8 question 8, not captured): ``{results: [{externalDealId, status:
    created|updated|failed, error?}], summary: {total, created, updated, failed}}``. An item fails
    only when it names a pipeline we know with a stageId that pipeline does not have.
    """
    stamp = iso_ms(store.clock.write_stamp())
    results: list[dict[str, Any]] = []
    for deal in deals:
        deal_id = deal["externalDealId"]
        pipeline = store.pipelines.get(deal.get("pipelineId") or "")
        stage_id = deal.get("stageId")
        if pipeline is not None and stage_id is not None and stage_id not in pipeline["stageIds"]:
            error = f"stageId {stage_id} does not exist in pipeline {pipeline['pipelineId']}"
            results.append({"externalDealId": deal_id, "status": "failed", "error": error})
            continue
        previous = store.deals.get(deal_id)
        store.deals[deal_id] = _stored_deal(store, deal, previous, stamp)
        status = "created" if previous is None else "updated"
        results.append({"externalDealId": deal_id, "status": status})
    return {"results": results, "summary": summarise(results, ("created", "updated", "failed"))}


def _stored_deal(
    store: Store, deal: dict[str, Any], previous: dict[str, Any] | None, stamp: str
) -> dict[str, Any]:
    stored = dict(deal)
    # §4.9: associated accounts match by normalised domain; no match leaves them unlinked.
    linked = []
    for account in deal.get("associatedAccounts") or []:
        entry = dict(account)
        if account.get("domain") is not None:
            entry["domain"] = normalise_domain(account["domain"])
        entry["rtp_aid"] = _link(store, entry.get("domain"))
        linked.append(entry)
    stored["associatedAccounts"] = linked
    # The quickstart speaks of "stage history" (§8 question 8): we record each stage change.
    history = list(previous["stageHistory"]) if previous else []
    if deal.get("stageId") is not None and (
        not history or history[-1]["stageId"] != deal["stageId"]
    ):
        history.append(
            {"stageId": deal["stageId"], "stageLabel": deal.get("stageLabel"), "at": stamp}
        )
    stored["stageHistory"] = history
    stored["createdAt"] = previous["createdAt"] if previous else stamp
    stored["updatedAt"] = stamp
    return stored


def push_deal_stages(store: Store, pipelines: list[dict[str, Any]]) -> dict[str, Any]:
    """``POST /deal-stages``: create-only, all or nothing (§4.10)."""
    ids = [p["pipelineId"] for p in pipelines]
    existing = [pid for pid in dict.fromkeys(ids) if pid in store.pipelines]
    if existing:
        raise BusinessError(409, f"Pipeline(s) already exist: {', '.join(existing)}")
    # Our choice: a pipelineId twice in one request, or a stageId twice in one pipeline, is a
    # whole-request 400 (§4.10 says stageIds are unique within their pipeline).
    repeated = sorted({pid for pid in ids if ids.count(pid) > 1})
    if repeated:
        raise BusinessError(400, f"Duplicate pipelineId(s) in request: {', '.join(repeated)}")
    for pipeline in pipelines:
        stage_ids = [s["stageId"] for s in pipeline["stages"]]
        if len(set(stage_ids)) != len(stage_ids):
            raise BusinessError(400, f"Duplicate stageId in pipeline {pipeline['pipelineId']}")
    stamp = iso_ms(store.clock.write_stamp())
    for pipeline in pipelines:
        stored = dict(
            pipeline, stageIds=[s["stageId"] for s in pipeline["stages"]], createdAt=stamp
        )
        store.pipelines[pipeline["pipelineId"]] = stored
    results = [{"pipelineId": pid, "status": "created"} for pid in ids]
    return {"results": results, "summary": {"total": len(results), "created": len(results)}}


def push_activities(store: Store, activities: list[dict[str, Any]]) -> dict[str, Any]:
    """``POST /sales-activities``: create-only (§4.11)."""
    stamp = iso_ms(store.clock.write_stamp())
    results: list[dict[str, Any]] = []
    for activity in activities:
        activity_id = activity["externalActivityId"]
        result: dict[str, Any] = {"externalActivityId": activity_id}
        if activity["activityType"] not in ACTIVITY_TYPES:
            result["status"] = "skipped"
            result["reason"] = (
                f"activityType {activity['activityType']!r} is not supported; "
                "only call and email are processed"
            )
        elif activity_id in store.activities:
            # §4.11: also a repeat within the same request, since the first one is stored.
            result["status"] = "failed"
            result["error"] = f"Activity with externalActivityId {activity_id} already exists"
        else:
            domain = normalise_domain(activity["domain"])
            aid = _link(store, domain)
            # §8 question 18 (our choice): an unknown domain is stored, unlinked.
            stored = dict(activity, domain=domain, rtp_aid=aid, accountLinked=aid is not None)
            store.activities[activity_id] = dict(stored, createdAt=stamp)
            result["status"] = "created"
        results.append(result)
    summary = summarise(results, ("created", "failed", "skipped"))
    return {"results": results, "summary": summary}
