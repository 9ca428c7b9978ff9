"""Deals, sales activities, external-id mappings, custom fields and deal stages."""

from __future__ import annotations


def _activity(i: int, activity_type: str = "email") -> dict:
    return {
        "externalActivityId": f"act-{i}",
        "activityType": activity_type,
        "occurredAt": "2026-01-15T10:00:00+01:00",
        "domain": "https://www.deltabay.com",
        "ownerEmail": "rep@example.com",
        "contacts": [{"email": f"c{i}@deltabay.com"}],
        "subject": f"Hello {i}",
        "openCount": 2,
    }


def test_deals_upsert_by_external_deal_id(harness, sandbox):
    account = sandbox.admin.dump()["accounts"][0]
    deal = {
        "externalDealId": "deal-1",
        "name": "Big deal",
        "amount": 50000,
        "ownerEmail": "owner@example.com",
        "associatedAccounts": [{"domain": f"https://www.{account['domain']}/", "name": "A"}],
    }

    first = harness.run(harness.stream("deals", [deal]))
    second = harness.run(harness.stream("deals", [{**deal, "name": "Bigger deal"}]))

    assert first.counts("deals") == {"created": 1}
    assert second.counts("deals") == {"updated": 1}
    (stored,) = sandbox.admin.dump()["deals"]
    assert stored["name"] == "Bigger deal"
    assert stored["associatedAccounts"][0]["domain"] == account["domain"]
    assert stored["associatedAccounts"][0]["rtp_aid"] == account["rtp_aid"]


def test_deal_item_failure_is_reported_with_its_key(harness, sandbox):
    pipelines = [_pipeline("p1")]
    deals = [
        {"externalDealId": "ok", "name": "OK", "pipelineId": "p1", "stageId": "s1"},
        {"externalDealId": "bad", "name": "Bad", "pipelineId": "p1", "stageId": "nope"},
    ]

    result = harness.run(harness.stream("deal_stages", pipelines) + harness.stream("deals", deals))

    assert result.counts("deals") == {"created": 1, "failed": 1}
    assert result.failed[0]["record"]["externalDealId"] == "bad"
    assert "stageId nope" in result.failed[0]["reason"]


def test_sales_activities_in_batches_of_50_and_a_re_run_is_idempotent(harness, sandbox):
    records = [_activity(i) for i in range(120)]

    first = harness.run(harness.stream("sales_activities", records))
    second = harness.cli(harness.stream("sales_activities", records))

    assert first.counts("sales_activities") == {"created": 120}
    batches = sandbox.admin.stats()["batch_sizes"]["POST /api/v1/sales-activities"]
    # Sorted: batches in flight together may reach the sandbox in either order.
    assert sorted(batches) == [20, 20, 50, 50, 50, 50]
    assert second.exit_code == 0
    assert second.failed == []
    assert "120 existing" in second.stderr
    assert len(sandbox.admin.dump()["sales_activities"]) == 120


def test_unsupported_activity_types_are_skipped_not_failed(harness, sandbox):
    records = [_activity(1), _activity(2, activity_type="meeting")]

    result = harness.run(harness.stream("sales_activities", records))

    assert result.counts("sales_activities") == {"created": 1, "skipped": 1}
    assert result.exit_code == 0


def test_duplicate_activity_ids_in_one_batch_become_one_item(harness, sandbox):
    records = [_activity(1), {**_activity(1), "subject": "Later"}]

    result = harness.run(harness.stream("sales_activities", records))

    assert result.counts("sales_activities") == {"created": 1, "superseded": 1}
    (stored,) = sandbox.admin.dump()["sales_activities"]
    assert stored["subject"] == "Later"


def test_external_id_mappings_refuse_unknown_domains(harness, sandbox):
    known = sandbox.admin.dump()["accounts"][5]["domain"]
    records = [
        {"domain": f"https://www.{known}/", "externalId": "sf-001"},
        {"domain": "nobody.example.org", "externalId": "sf-002"},
    ]

    result = harness.run(harness.stream("external_id_mappings", records))

    assert result.counts("external_id_mappings") == {"updated": 1, "failed": 1}
    assert result.failed[0]["record"]["domain"] == "nobody.example.org"
    assert "no Recotap account" in result.failed[0]["reason"]
    stored = {a["domain"]: a for a in sandbox.admin.dump()["accounts"]}
    assert stored[known]["externalId"] == "sf-001"


def test_new_custom_fields_are_usable_by_accounts_in_the_same_run(harness, sandbox):
    fields = [
        {"label": "Contract Value", "labelType": "number", "description": "ARR"},
        {"label": "Industry", "labelType": "singleSelection", "options": ["x"]},  # exists
    ]
    accounts = [{"domain": "cv.example.org", "name": "CV", "CONTRACT_VALUE_C": 1200}]

    result = harness.run(
        harness.stream("custom_fields", fields) + harness.stream("accounts", accounts)
    )

    assert result.counts("custom_fields") == {"created": 1, "existing": 1}
    assert result.counts("accounts") == {"created": 1}
    stored = {a["domain"]: a for a in sandbox.admin.dump()["accounts"]}
    assert stored["cv.example.org"]["customFields"]["CONTRACT_VALUE_C"] == 1200
    assert result.exit_code == 0


def test_tap_shaped_custom_fields_push_cleanly(harness, sandbox):
    field = {
        "key": "REGION_C",
        "label": "Region",
        "labelType": "multiLineText",
        "description": None,
        "options": [],
        "objectType": "accounts",
        "status": "active",
    }

    result = harness.run(harness.stream("custom_fields", [field]))

    assert result.counts("custom_fields") == {"created": 1}
    created = [f for f in sandbox.admin.dump()["custom_fields"] if f["key"] == "REGION_C"]
    assert created[0]["labelType"] == "multiLineText"


def _pipeline(pid: str) -> dict:
    return {
        "pipelineId": pid,
        "pipelineLabel": f"Pipeline {pid}",
        "stages": [{"stageId": "s1", "stageLabel": "Open"}, {"stageId": "s2", "stageLabel": "Won"}],
    }


def test_deal_stages_resend_without_existing_pipelines_after_a_409(harness, sandbox):
    harness.run(harness.stream("deal_stages", [_pipeline("p2")]))

    result = harness.run(harness.stream("deal_stages", [_pipeline(p) for p in ("p1", "p2", "p3")]))

    assert result.counts("deal_stages") == {"existing": 1, "created": 2}
    assert result.exit_code == 0
    assert sorted(p["pipelineId"] for p in sandbox.admin.dump()["pipelines"]) == ["p1", "p2", "p3"]
    assert sandbox.admin.stats()["statuses"]["409"] == 1


def test_deal_stages_go_in_batches_of_20(harness, sandbox):
    harness.run(harness.stream("deal_stages", [_pipeline(f"p{i}") for i in range(45)]))

    batches = sandbox.admin.stats()["batch_sizes"]["POST /api/v1/deal-stages"]
    assert sorted(batches) == [5, 20, 20]  # batches in flight together may arrive either way


def test_a_dry_run_knows_the_key_a_new_field_label_with_spaces_will_get(harness, sandbox, caplog):
    # Nothing is created in a dry run, so only the key derived from the label (§4.7: spaces
    # become `_`, upper case, `_C`) tells that the accounts' DEAL_SIZE_BAND_C column is routed.
    fields = [{"label": "Deal Size Band", "labelType": "singleLineText"}]
    accounts = [{"domain": "ds.example.org", "name": "DS", "DEAL_SIZE_BAND_C": "large"}]

    result = harness.run(
        harness.stream("custom_fields", fields) + harness.stream("accounts", accounts),
        dry_run=True,
    )

    assert result.exit_code == 0
    assert result.counts("accounts") == {"would_send": 1}
    assert "no field for" not in caplog.text  # no column dropped
    assert "'customFields': {'DEAL_SIZE_BAND_C': 'large'}" in caplog.text  # the item it would send
    assert not [f for f in sandbox.admin.dump()["custom_fields"] if f["key"] == "DEAL_SIZE_BAND_C"]
