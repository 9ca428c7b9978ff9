"""POST /accounts (§4.2), PUT /accounts/{rtp_aid} (§4.3), unmapped accounts and PATCH (§4.4-5)."""

from __future__ import annotations

import pytest


def _account(api, domain):
    found = api.data("/accounts", domains=f'["{domain}"]')["data"]
    assert len(found) == 1
    return found[0]


def _push(api, accounts, **extra):
    return api.write("POST", "/accounts", {"accounts": accounts, **extra})


def test_create_normalises_domain_and_starts_unscored(api):
    data = _push(api, [{"domain": "https://www.NewCo.io/about?x=1", "name": "NewCo"}])
    assert data["summary"] == {"total": 1, "created": 1, "updated": 0, "failed": 0}
    result = data["results"][0]
    assert result["status"] == "created"
    assert result["domain"] == "newco.io"
    account = _account(api, "newco.io")
    assert account["rtp_aid"] == result["rtp_aid"]
    assert account["externalId"] is None
    assert account["rtp_journey_stage"] == ""
    assert all(account[k] == 0 for k in account if k.endswith("_score"))


def test_new_accounts_sort_after_existing_ones(api):
    last_seeded = api.data("/accounts", limit=500)["data"][-1]["rtp_aid"]
    aid = _push(api, [{"domain": "z-last.com", "name": "Z"}])["results"][0]["rtp_aid"]
    assert aid > last_seeded


def test_existing_domain_without_upsert_fails_with_existing_rtp_aid(api, sandbox):
    existing = sandbox.admin.dump()["accounts"][0]
    data = _push(
        api, [{"domain": existing["domain"], "name": "Dup"}, {"domain": "ok.com", "name": "Ok"}]
    )
    failed, created = data["results"]
    assert failed["status"] == "failed"
    assert failed["rtp_aid"] == existing["rtp_aid"]
    assert "upsert" in failed["error"]
    assert created["status"] == "created"
    assert data["summary"] == {"total": 2, "created": 1, "updated": 0, "failed": 1}
    assert _account(api, existing["domain"])["name"] == existing["name"]


def test_upsert_updates_sent_fields_and_keeps_the_rest(api, sandbox):
    _push(
        api,
        [
            {
                "domain": "up.com",
                "name": "Up",
                "externalId": "E1",
                "tags": ["a"],
                "customFields": {"INDUSTRY_C": "Retail", "ANNUAL_REVENUE_C": 5},
            }
        ],
    )
    data = _push(
        api,
        [
            {
                "domain": "www.up.com",
                "name": "Up Inc",
                "tags": ["b"],
                "customFields": {"ANNUAL_REVENUE_C": 7},
            }
        ],
        upsert=True,
    )
    assert data["results"][0]["status"] == "updated"
    account = _account(api, "up.com")
    assert account["name"] == "Up Inc"
    assert account["externalId"] == "E1"
    assert account["customFields"]["INDUSTRY_C"] == "Retail"
    assert account["customFields"]["ANNUAL_REVENUE_C"] == 7
    stored = next(a for a in sandbox.admin.dump()["accounts"] if a["domain"] == "up.com")
    assert stored["tags"] == ["b"]


def test_unknown_custom_field_key_fails_only_that_item(api):
    data = _push(
        api,
        [
            {"domain": "a1.com", "name": "A1", "customFields": {"NOPE_C": 1, "ALSO_C": 2}},
            {"domain": "a2.com", "name": "A2", "customFields": {"INDUSTRY_C": "Finance"}},
        ],
    )
    bad, good = data["results"]
    assert bad == {
        "rtp_aid": None,
        "domain": "a1.com",
        "status": "failed",
        "error": "Unknown custom field key(s): NOPE_C, ALSO_C",
    }
    assert good["status"] == "created"
    assert api.data("/accounts", domains='["a1.com"]')["data"] == []


def test_inactive_custom_field_key_is_unknown(api):
    data = _push(api, [{"domain": "a3.com", "name": "A3", "customFields": {"LEGACY_TIER_C": "x"}}])
    assert data["results"][0]["status"] == "failed"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ANNUAL_REVENUE_C", "lots"),
        ("RENEWAL_DATE_C", "soon"),
        ("INDUSTRY_C", "Mining"),
        ("PRODUCT_INTEREST_C", "Ads"),
        ("PRODUCT_INTEREST_C", ["Nope"]),
        ("NOTES_C", 3),
    ],
)
def test_custom_field_value_of_wrong_type_fails_the_item(api, key, value):
    data = _push(api, [{"domain": "typed.com", "name": "T", "customFields": {key: value}}])
    assert data["results"][0]["status"] == "failed"
    assert key in data["results"][0]["error"]


def test_custom_field_values_of_every_type_are_stored(api):
    values = {
        "INDUSTRY_C": "Finance",
        "PRODUCT_INTEREST_C": ["Intent", "Journeys"],
        "ANNUAL_REVENUE_C": 12.5,
        "RENEWAL_DATE_C": "2026-03-01",
        "ACCOUNT_OWNER_C": "Me",
        "NOTES_C": "a\nb",
    }
    _push(api, [{"domain": "typed.com", "name": "T", "customFields": values}])
    assert _account(api, "typed.com")["customFields"] == values


@pytest.mark.parametrize(
    ("body", "prop"),
    [
        ({}, "accounts"),
        ({"accounts": []}, "accounts"),
        ({"accounts": [{"domain": f"d{i}.com", "name": "n"} for i in range(101)]}, "accounts"),
        ({"accounts": [{"domain": "x.com"}]}, "accounts.0.name"),
        ({"accounts": [{"domain": "x.com", "name": "x", "tags": "t"}]}, "accounts.0.tags"),
        ({"accounts": [{"domain": "x.com", "name": "x"}], "upsert": "yes"}, "upsert"),
        ({"accounts": [{"domain": "x.com", "name": "x", "colour": "red"}]}, "accounts.0.colour"),
    ],
)
def test_invalid_body_is_whole_request_400_and_writes_nothing(api, sandbox, body, prop):
    before = len(sandbox.admin.dump()["accounts"])
    if body.get("accounts"):
        body["accounts"].append({"domain": "valid.com", "name": "Valid"})
    response = api.send("POST", "/accounts", body)
    assert response.status_code == 400
    assert prop in [p["property"] for p in response.json()["data"]]
    assert len(sandbox.admin.dump()["accounts"]) == before


def _segments(sandbox):
    return {(s["type"], s["status"]): s["segmentId"] for s in sandbox.admin.dump()["segments"]}


@pytest.mark.parametrize("kind", [("static", "archived"), ("dynamic", "active"), None])
def test_bad_segment_rejects_whole_request_and_writes_nothing(api, sandbox, kind):
    segment_id = _segments(sandbox)[kind] if kind else "000000000000000000000000"
    response = api.send(
        "POST",
        "/accounts",
        {"accounts": [{"domain": "seg.com", "name": "S"}], "segmentId": segment_id},
    )
    body = response.json()
    assert response.status_code == 400
    assert body["data"] is None
    assert segment_id in body["customMessage"]
    assert api.data("/accounts", domains='["seg.com"]')["data"] == []


@pytest.mark.parametrize("status", ["active", "draft"])
def test_segment_membership_without_duplicates(api, sandbox, status):
    segment_id = _segments(sandbox)[("static", status)]
    existing = sandbox.admin.dump()["accounts"][0]
    members_before = sandbox.admin.dump()["segment_members"][segment_id]
    body = {
        "accounts": [
            {"domain": "member.com", "name": "M"},
            {"domain": existing["domain"], "name": existing["name"]},
        ],
        "segmentId": segment_id,
        "upsert": True,
    }
    api.write("POST", "/accounts", body)
    api.write("POST", "/accounts", body)
    members = sandbox.admin.dump()["segment_members"][segment_id]
    assert len(members) == len(set(members))
    new_aid = _account(api, "member.com")["rtp_aid"]
    assert set(members) == set(members_before) | {new_aid, existing["rtp_aid"]}


def test_put_merges_custom_fields_and_moves_last_sync(api, sandbox):
    account = api.data("/accounts", limit=1)["data"][0]
    sync = api.data("/accounts", limit=1)["syncTimestamp"]
    data = api.write(
        "PUT",
        f"/accounts/{account['rtp_aid']}",
        {"customFields": {"NOTES_C": "changed", "INDUSTRY_C": None}},
    )
    assert data == {"message": "Account updated successfully"}
    after = api.data("/accounts", lastSync=sync)["data"]
    assert [a["rtp_aid"] for a in after] == [account["rtp_aid"]]
    fields = after[0]["customFields"]
    assert fields["NOTES_C"] == "changed"
    assert fields["INDUSTRY_C"] is None
    unchanged = {
        k: v for k, v in account["customFields"].items() if k not in ("NOTES_C", "INDUSTRY_C")
    }
    assert {k: fields[k] for k in unchanged} == unchanged
    assert after[0]["rtp_last_account_date"] >= sync


def test_put_bad_rtp_aid_format_is_400(api):
    response = api.send("PUT", "/accounts/not-an-id", {"customFields": {}})
    assert response.status_code == 400
    assert response.json()["data"][0]["property"] == "rtp_aid"


def test_put_unknown_rtp_aid_is_404(api):
    response = api.send("PUT", "/accounts/ffffffffffffffffffffffff", {"customFields": {}})
    assert response.status_code == 404
    assert response.json()["data"] is None


def test_put_any_other_body_key_is_400(api):
    aid = api.data("/accounts", limit=1)["data"][0]["rtp_aid"]
    response = api.send("PUT", f"/accounts/{aid}", {"customFields": {}, "domain": "x.com"})
    assert response.status_code == 400
    assert response.json()["data"] == [
        {
            "property": "domain",
            "constraints": {"whitelistValidation": "property domain should not exist"},
        }
    ]


def test_put_unknown_custom_field_key_is_400(api):
    aid = api.data("/accounts", limit=1)["data"][0]["rtp_aid"]
    response = api.send("PUT", f"/accounts/{aid}", {"customFields": {"NOPE_C": 1}})
    assert response.status_code == 400
    assert "NOPE_C" in response.json()["customMessage"]


def test_missing_external_ids_lists_unmapped_accounts(api, sandbox):
    unmapped = [
        {"name": a["name"], "domain": a["domain"]}
        for a in sandbox.admin.dump()["accounts"]
        if a["externalId"] is None
    ]
    assert api.data("/accounts/missing-external-ids") == unmapped[:100]
    assert api.data("/accounts/missing-external-ids", limit=3) == unmapped[:3]
    assert api.get("/accounts/missing-external-ids", limit=501).status_code == 400


def test_patch_external_ids_maps_by_normalised_domain_last_wins(api, sandbox):
    first, second = api.data("/accounts/missing-external-ids", limit=2)
    sync = api.data("/accounts", limit=1)["syncTimestamp"]
    data = api.write(
        "PATCH",
        "/accounts/external-ids",
        {
            "mappings": [
                {"domain": f"https://www.{first['domain']}", "externalId": "X-1"},
                {"domain": first["domain"], "externalId": "X-2"},
                {"domain": second["domain"], "externalId": "Y"},
                {"domain": "Unknown.example", "externalId": "Z"},
            ]
        },
    )
    assert data == {"matched": 2, "updated": 2, "notFound": ["unknown.example"]}
    assert _account(api, first["domain"])["externalId"] == "X-2"
    assert len(api.data("/accounts", lastSync=sync)["data"]) == 2
    missing = api.data("/accounts/missing-external-ids", limit=500)
    assert first not in missing
    assert second not in missing


def test_patch_external_ids_validation(api):
    assert api.send("PATCH", "/accounts/external-ids", {"mappings": []}).status_code == 400
    too_many = [{"domain": f"d{i}.com", "externalId": "x"} for i in range(101)]
    assert api.send("PATCH", "/accounts/external-ids", {"mappings": too_many}).status_code == 400
    response = api.send("PATCH", "/accounts/external-ids", {"mappings": [{"domain": "a.com"}]})
    assert response.json()["data"][0]["property"] == "mappings.0.externalId"
