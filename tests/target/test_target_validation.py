"""Local validation: a bad record is refused alone, never sent, and never sinks its batch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from target_recotap.records import iso8601, normalise_domain


def _activity(i: int, **changes) -> dict:
    activity = {
        "externalActivityId": f"act-{i}",
        "activityType": "call",
        "occurredAt": "2026-01-15T10:00:00Z",
        "domain": "deltabay.com",
        "ownerEmail": "rep@example.com",
        "contacts": [{"email": "buyer@deltabay.com", "name": "Buyer"}],
        "direction": "outbound",
        "durationMinutes": 12,
    }
    activity.update(changes)
    return {k: v for k, v in activity.items() if v is not None}


ACTIVITY_RULES = [
    pytest.param({"occurredAt": "15/01/2026"}, "occurredAt", id="date-not-iso"),
    pytest.param({"occurredAt": None}, "occurredAt is required", id="date-missing"),
    pytest.param({"ownerEmail": "not-an-email"}, "ownerEmail", id="bad-email"),
    pytest.param({"contacts": []}, "contacts needs at least 1", id="no-contacts"),
    pytest.param({"contacts": [{"name": "No Mail"}]}, "contacts[0].email", id="contact-email"),
    pytest.param({"direction": "sideways"}, "direction must be one of", id="direction"),
    pytest.param({"domain": "https://"}, "domain is not a domain", id="empty-domain"),
    pytest.param({"activityType": None}, "activityType is required", id="no-type"),
    pytest.param({"durationMinutes": "twelve"}, "durationMinutes must be a number", id="number"),
]


@pytest.mark.parametrize(("change", "reason"), ACTIVITY_RULES)
def test_an_invalid_activity_is_refused_and_the_rest_of_the_batch_delivered(
    harness, sandbox, change, reason
):
    records = [_activity(1), _activity(2, **change), _activity(3)]

    result = harness.run(harness.stream("sales_activities", records))

    assert result.counts("sales_activities") == {"created": 2, "refused": 1}
    assert sandbox.admin.stats()["batch_sizes"]["POST /api/v1/sales-activities"] == [2]
    assert [line["record"]["externalActivityId"] for line in result.failed] == ["act-2"]
    assert reason in result.failed[0]["reason"]
    assert result.exit_code == 1


ACCOUNT_RULES = [
    pytest.param({"name": None}, "name is required", id="no-name"),
    pytest.param({"name": ""}, "name is required", id="empty-name"),
    pytest.param({"domain": None}, "domain is required", id="no-domain"),
    pytest.param({"tags": "vip"}, "tags must be a list of strings", id="tags"),
    pytest.param({"customFields": "x"}, "customFields must be an object", id="custom"),
]


@pytest.mark.parametrize(("change", "reason"), ACCOUNT_RULES)
def test_an_invalid_account_is_refused_locally(harness, sandbox, change, reason):
    good = {"domain": "good.example.org", "name": "Good"}
    bad = {**{"domain": "bad.example.org", "name": "Bad"}, **change}

    result = harness.run(harness.stream("accounts", [good, bad]))

    assert result.counts("accounts") == {"created": 1, "refused": 1}
    assert reason in result.failed[0]["reason"]
    assert sandbox.admin.stats()["batch_sizes"]["POST /api/v1/accounts"] == [1]


DEAL_RULES = [
    pytest.param({"externalDealId": None}, "externalDealId is required", id="no-id"),
    pytest.param({"closedDate": "next tuesday"}, "closedDate must be an ISO-8601", id="date"),
    pytest.param({"ownerEmail": "bob@"}, "ownerEmail must be an e-mail", id="email"),
    pytest.param({"amount": "1000"}, "amount must be a number", id="amount"),
]


@pytest.mark.parametrize(("change", "reason"), DEAL_RULES)
def test_an_invalid_deal_is_refused_locally(harness, sandbox, change, reason):
    good = {"externalDealId": "d-1", "name": "Good deal", "amount": 10}
    bad = {**{"externalDealId": "d-2", "name": "Bad deal"}, **change}

    result = harness.run(harness.stream("deals", [good, bad]))

    assert result.counts("deals") == {"created": 1, "refused": 1}
    assert reason in result.failed[0]["reason"]


def test_custom_field_and_pipeline_rules(harness, sandbox):
    fields = [
        {"label": "Tier", "labelType": "singleSelection"},  # options missing
        {"label": "Score", "labelType": "percentage"},
    ]
    pipelines = [{"pipelineId": "p-1", "pipelineLabel": "Sales", "stages": []}]

    result = harness.run(
        harness.stream("custom_fields", fields) + harness.stream("deal_stages", pipelines)
    )

    reasons = [line["reason"] for line in result.failed]
    assert "options needs at least 1 entry" in reasons[0]
    assert "labelType must be one of" in reasons[1]
    assert "stages needs at least 1 item" in reasons[2]
    assert sandbox.admin.stats()["requests"].get("POST /api/v1/accounts/custom-field") is None


def test_dates_and_decimals_are_encoded_for_the_api(harness, sandbox):
    deal = {
        "externalDealId": "d-enc",
        "name": "Encoded",
        "amount": 1234.5,
        "startDate": "2026-01-15 10:00:00",
        "closedDate": "2026-02-01",
    }
    schema = harness.schema(
        "deals",
        {
            "externalDealId": {"type": "string"},
            "name": {"type": "string"},
            "amount": {"type": "number"},
            "startDate": {"type": "string", "format": "date-time"},
            "closedDate": {"type": "string", "format": "date"},
        },
    )

    result = harness.run([schema, {"type": "RECORD", "stream": "deals", "record": deal}])

    assert result.counts("deals") == {"created": 1}
    stored = sandbox.admin.dump()["deals"][0]
    assert stored["amount"] == 1234.5
    assert stored["startDate"] == "2026-01-15T10:00:00+00:00"
    assert stored["closedDate"] == "2026-02-01T00:00:00+00:00"


def test_iso8601_keeps_offsets_and_takes_naive_datetimes_as_utc():
    cet = timezone(timedelta(hours=1))
    assert iso8601(datetime(2026, 1, 2, 3, 4, 5, tzinfo=cet)) == "2026-01-02T03:04:05+01:00"
    naive = datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001 (the case under test)
    assert iso8601(naive) == "2026-01-02T03:04:05+00:00"
    assert iso8601("2026-01-02T03:04:05.123456789Z") == "2026-01-02T03:04:05.123456+00:00"
    assert iso8601("Jan 2") is None
    assert iso8601(Decimal(5)) is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://www.Acme.com/foo", "acme.com"),
        ("http://acme.com:8080/?q=1", "acme.com"),
        ("WWW.acme.com.", "acme.com"),
        ("shop.acme.com", "shop.acme.com"),
    ],
)
def test_domains_are_normalised_like_the_api(raw, clean):
    assert normalise_domain(raw) == clean
