"""GET /segments (§4.8), GET /accounts/custom-fields (§4.6), POST /accounts/custom-field (§4.7)."""

from __future__ import annotations

import pytest


def test_segments_lists_only_static_active_or_draft(api, sandbox):
    expected = sorted(
        s["segmentId"]
        for s in sandbox.admin.dump()["segments"]
        if s["type"] == "static" and s["status"] in ("active", "draft")
    )
    page = api.data("/segments")
    assert [s["segmentId"] for s in page["data"]] == expected
    assert {s["status"] for s in page["data"]} == {"active", "draft"}
    assert set(page["data"][0]) == {"segmentId", "name", "status"}
    assert page["hasNextPage"] is False
    assert page["nextCursor"] is not None


def test_segments_paginate(api):
    first = api.data("/segments", limit=2)
    second = api.data("/segments", limit=2, cursor=first["nextCursor"])
    assert first["hasNextPage"] is True
    assert second["hasNextPage"] is False
    assert len(first["data"]) + len(second["data"]) == 3
    assert api.get("/segments", limit=501).status_code == 400


def test_custom_fields_lists_active_definitions_as_bare_array(api):
    fields = api.data("/accounts/custom-fields")
    assert isinstance(fields, list)
    assert {f["labelType"] for f in fields} == {
        "singleLineText",
        "multiLineText",
        "singleSelection",
        "multiSelection",
        "number",
        "date",
    }
    assert all(f["status"] == "active" and f["objectType"] == "accounts" for f in fields)
    selection = [f for f in fields if f["labelType"].endswith("Selection")]
    assert all(f["options"] for f in selection)
    assert all(f["options"] == [] for f in fields if f not in selection)


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Contract Value", "CONTRACT_VALUE_C"),
        ("Net-Revenue", "NET-REVENUE_C"),
        ("Revenue (USD)", "REVENUE_(USD)_C"),
    ],
)
def test_create_custom_field_derives_the_key(api, label, key):
    data = api.write("POST", "/accounts/custom-field", {"label": label, "labelType": "number"})
    assert data == [
        {
            "key": key,
            "label": label,
            "labelType": "number",
            "description": None,
            "options": [],
            "objectType": "accounts",
            "status": "active",
        }
    ]
    assert key in [f["key"] for f in api.data("/accounts/custom-fields")]
    account = api.data("/accounts", limit=1)["data"][0]
    assert account["customFields"][key] is None


def test_created_custom_field_is_writable(api):
    api.write(
        "POST",
        "/accounts/custom-field",
        {"label": "Tier", "labelType": "singleSelection", "options": ["A", "B"]},
    )
    data = api.write(
        "POST",
        "/accounts",
        {"accounts": [{"domain": "tier.com", "name": "T", "customFields": {"TIER_C": "B"}}]},
    )
    assert data["results"][0]["status"] == "created"


def test_create_existing_active_key_is_409(api):
    response = api.send(
        "POST", "/accounts/custom-field", {"label": "industry", "labelType": "number"}
    )
    assert response.status_code == 409
    assert "INDUSTRY_C" in response.json()["customMessage"]


def test_create_key_of_an_inactive_field_is_allowed(api):
    data = api.write(
        "POST", "/accounts/custom-field", {"label": "Legacy Tier", "labelType": "singleLineText"}
    )
    assert data[0]["key"] == "LEGACY_TIER_C"


@pytest.mark.parametrize(
    "body",
    [
        {"label": "Pick", "labelType": "singleSelection"},
        {"label": "Pick", "labelType": "multiSelection", "options": []},
        {"label": "Pick", "labelType": "colour"},
        {"labelType": "number"},
    ],
)
def test_create_custom_field_validation(api, body):
    response = api.send("POST", "/accounts/custom-field", body)
    assert response.status_code == 400
    assert response.json()["message"] == "Bad Request"
