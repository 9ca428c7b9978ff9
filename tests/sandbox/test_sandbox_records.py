"""POST /deals (§4.9), POST /deal-stages (§4.10), POST /sales-activities (§4.11)."""

from __future__ import annotations

import pytest


def _deal(deal_id, **extra):
    return {"externalDealId": deal_id, "name": f"Deal {deal_id}", **extra}


def _activity(activity_id, **extra):
    base = {
        "externalActivityId": activity_id,
        "activityType": "call",
        "occurredAt": "2026-01-02T10:00:00Z",
        "domain": "acme-unknown.com",
        "ownerEmail": "rep@example.com",
        "contacts": [{"email": "c@example.com"}],
    }
    return {**base, **extra}


def test_deals_upsert_by_external_deal_id(api, sandbox):
    account = sandbox.admin.dump()["accounts"][0]
    first = api.write(
        "POST",
        "/deals",
        {
            "deals": [
                _deal(
                    "D1",
                    amount=10,
                    associatedAccounts=[
                        {"domain": f"https://www.{account['domain']}"},
                        {"domain": "nobody.example"},
                    ],
                )
            ]
        },
    )
    assert first == {
        "results": [{"externalDealId": "D1", "status": "created"}],
        "summary": {"total": 1, "created": 1, "updated": 0, "failed": 0},
    }
    second = api.write("POST", "/deals", {"deals": [_deal("D1", amount=20), _deal("D2")]})
    assert [r["status"] for r in second["results"]] == ["updated", "created"]
    stored = {d["externalDealId"]: d for d in sandbox.admin.dump()["deals"]}
    assert stored["D1"]["amount"] == 20
    assert len(stored) == 2


def test_deal_associated_accounts_link_by_domain_or_stay_unlinked(api, sandbox):
    account = sandbox.admin.dump()["accounts"][0]
    api.write(
        "POST",
        "/deals",
        {
            "deals": [
                _deal(
                    "D1",
                    associatedAccounts=[
                        {"domain": f"https://www.{account['domain']}"},
                        {"domain": "nobody.example"},
                    ],
                )
            ]
        },
    )
    linked = sandbox.admin.dump()["deals"][0]["associatedAccounts"]
    assert [(a["domain"], a["rtp_aid"]) for a in linked] == [
        (account["domain"], account["rtp_aid"]),
        ("nobody.example", None),
    ]


def test_deal_with_unknown_stage_of_known_pipeline_fails_that_item(api):
    api.write(
        "POST",
        "/deal-stages",
        {
            "pipelines": [
                {
                    "pipelineId": "P",
                    "pipelineLabel": "P",
                    "stages": [{"stageId": "s1", "stageLabel": "S1"}],
                }
            ]
        },
    )
    data = api.write(
        "POST",
        "/deals",
        {
            "deals": [
                _deal("D1", pipelineId="P", stageId="nope"),
                _deal("D2", pipelineId="P", stageId="s1"),
            ]
        },
    )
    assert [r["status"] for r in data["results"]] == ["failed", "created"]
    assert "nope" in data["results"][0]["error"]


@pytest.mark.parametrize(
    ("deal", "prop"),
    [
        ({"name": "x"}, "deals.1.externalDealId"),
        (_deal("D", startDate="03/01/2026"), "deals.1.startDate"),
        (_deal("D", closedDate="soon"), "deals.1.closedDate"),
        (_deal("D", ownerEmail="not-an-email"), "deals.1.ownerEmail"),
        (_deal("D", amount="12"), "deals.1.amount"),
    ],
)
def test_deal_validation_rejects_the_whole_batch(api, sandbox, deal, prop):
    response = api.send("POST", "/deals", {"deals": [_deal("OK"), deal]})
    assert response.status_code == 400
    assert prop in [p["property"] for p in response.json()["data"]]
    assert sandbox.admin.dump()["deals"] == []


def test_more_than_100_deals_is_400(api):
    response = api.send("POST", "/deals", {"deals": [_deal(f"D{i}") for i in range(101)]})
    assert response.json()["data"][0]["constraints"] == {
        "arrayMaxSize": "deals must contain no more than 100 elements"
    }


def _pipeline(pipeline_id):
    return {
        "pipelineId": pipeline_id,
        "pipelineLabel": pipeline_id,
        "stages": [{"stageId": "s1", "stageLabel": "One"}, {"stageId": "s2", "stageLabel": "Two"}],
    }


def test_deal_stages_create_then_409_names_existing_and_writes_nothing(api, sandbox):
    data = api.write("POST", "/deal-stages", {"pipelines": [_pipeline("P1"), _pipeline("P2")]})
    assert data == {
        "results": [
            {"pipelineId": "P1", "status": "created"},
            {"pipelineId": "P2", "status": "created"},
        ],
        "summary": {"total": 2, "created": 2},
    }
    response = api.send("POST", "/deal-stages", {"pipelines": [_pipeline("P3"), _pipeline("P2")]})
    assert response.status_code == 409
    assert response.json()["customMessage"] == "Pipeline(s) already exist: P2"
    assert [p["pipelineId"] for p in sandbox.admin.dump()["pipelines"]] == ["P1", "P2"]


@pytest.mark.parametrize(
    "body",
    [
        {"pipelines": [_pipeline(f"P{i}") for i in range(21)]},
        {"pipelines": [{"pipelineId": "P", "pipelineLabel": "P", "stages": []}]},
        {"pipelines": [{"pipelineId": "P", "stages": [{"stageId": "s"}]}]},
    ],
)
def test_deal_stages_validation(api, body):
    assert api.send("POST", "/deal-stages", body).status_code == 400


def test_activities_created_failed_and_skipped(api, sandbox):
    account = sandbox.admin.dump()["accounts"][3]
    data = api.write(
        "POST",
        "/sales-activities",
        {
            "activities": [
                _activity("A1", domain=f"www.{account['domain']}"),
                _activity("A2", activityType="email", openCount=2),
                _activity("A1"),
                _activity("A3", activityType="meeting"),
            ]
        },
    )
    assert [r["status"] for r in data["results"]] == ["created", "created", "failed", "skipped"]
    assert "A1" in data["results"][2]["error"]
    assert "call and email" in data["results"][3]["reason"]
    assert data["summary"] == {"total": 4, "created": 2, "failed": 1, "skipped": 1}
    again = api.write("POST", "/sales-activities", {"activities": [_activity("A2")]})
    assert again["results"][0]["status"] == "failed"
    stored = {a["externalActivityId"]: a for a in sandbox.admin.dump()["sales_activities"]}
    assert stored["A1"]["accountLinked"] is True
    assert stored["A1"]["rtp_aid"] == account["rtp_aid"]
    assert stored["A2"]["accountLinked"] is False


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"occurredAt": None}, "activities.1.occurredAt"),
        ({"occurredAt": "last tuesday"}, "activities.1.occurredAt"),
        ({"domain": ""}, "activities.1.domain"),
        ({"ownerEmail": "nope"}, "activities.1.ownerEmail"),
        ({"contacts": []}, "activities.1.contacts"),
        ({"direction": "sideways"}, "activities.1.direction"),
    ],
)
def test_activity_validation_rejects_the_whole_batch(api, sandbox, change, prop):
    response = api.send(
        "POST", "/sales-activities", {"activities": [_activity("OK"), _activity("B", **change)]}
    )
    assert response.status_code == 400
    assert prop in [p["property"] for p in response.json()["data"]]
    assert sandbox.admin.dump()["sales_activities"] == []


def test_more_than_50_activities_is_400(api):
    body = {"activities": [_activity(f"A{i}") for i in range(51)]}
    assert api.send("POST", "/sales-activities", body).status_code == 400
