"""GET /accounts (§4.1): keyset pages, limit, cursor, lastSync, domains, customFields."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest


def _all_pages(api, **params):
    pages = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        page = api.data("/accounts", **query)
        pages.append(page)
        if not page["hasNextPage"]:
            return pages
        cursor = page["nextCursor"]


def test_pagination_sees_every_account_once_in_rtp_aid_order(api):
    pages = _all_pages(api, limit=30)
    aids = [a["rtp_aid"] for page in pages for a in page["data"]]
    assert len(pages) == 9  # 250 accounts / 30
    assert len(aids) == 250
    assert aids == sorted(set(aids))
    assert all(len(aid) == 24 and int(aid, 16) >= 0 for aid in aids)


def test_last_page_keeps_a_non_null_next_cursor(api):
    last = _all_pages(api, limit=100)[-1]
    assert last["hasNextPage"] is False
    assert last["nextCursor"] is not None
    after = api.data("/accounts", cursor=last["nextCursor"])
    assert after["data"] == []
    assert after["hasNextPage"] is False


def test_null_last_cursor_flag_nulls_it(flagged_api):
    page = flagged_api.data("/accounts", limit=500)
    assert page["hasNextPage"] is False
    assert page["nextCursor"] is None


def test_default_limit_is_100(api):
    assert len(api.data("/accounts")["data"]) == 100


def test_limit_500_is_allowed_and_501_is_400(api):
    assert len(api.data("/accounts", limit=500)["data"]) == 250
    response = api.get("/accounts", limit=501)
    assert response.status_code == 400
    assert response.json()["data"] == [
        {"property": "limit", "constraints": {"max": "limit must not be greater than 500"}}
    ]


@pytest.mark.parametrize("limit", ["0", "abc", "1.5"])
def test_bad_limit_is_400(api, limit):
    assert api.get("/accounts", limit=limit).status_code == 400


def test_malformed_cursor_is_400(api):
    response = api.get("/accounts", cursor="not-a-cursor!")
    assert response.status_code == 400
    assert response.json()["data"][0]["property"] == "cursor"


def test_every_account_has_every_active_custom_field_key(api):
    keys = {f["key"] for f in api.data("/accounts/custom-fields")}
    accounts = api.data("/accounts", limit=500)["data"]
    assert all(set(a["customFields"]) == keys for a in accounts)
    assert any(v is None for a in accounts for v in a["customFields"].values())
    assert "LEGACY_TIER_C" not in keys  # the inactive one


def test_account_fields_match_the_reference(api):
    account = api.data("/accounts", limit=1)["data"][0]
    assert list(account) == [
        "externalId",
        "name",
        "domain",
        "rtp_aid",
        "rtp_account_score",
        "rtp_journey_stage",
        "rtp_advertising_activity_score",
        "rtp_website_intent_score",
        "rtp_g2_intent_score",
        "rtp_bombora_intent_score",
        "rtp_last_account_date",
        "customFields",
    ]


def test_bad_last_sync_is_400(api):
    response = api.get("/accounts", lastSync="yesterday")
    assert response.status_code == 400
    assert response.json()["data"][0]["property"] == "lastSync"


def test_last_sync_from_sync_timestamp_sees_only_later_writes(api):
    sync = api.data("/accounts", limit=1)["syncTimestamp"]
    assert api.data("/accounts", lastSync=sync)["data"] == []
    api.write("POST", "/accounts", {"accounts": [{"domain": "later.com", "name": "Later"}]})
    changed = api.data("/accounts", lastSync=sync)["data"]
    assert [a["domain"] for a in changed] == ["later.com"]


def test_sync_timestamp_is_server_time_with_ms_and_z(api):
    sync = api.data("/accounts", limit=1)["syncTimestamp"]
    assert sync.endswith("Z")
    assert len(sync) == 24
    assert (
        abs(time.mktime(time.strptime(sync[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime()))
        < 60
    )


def _stamped_account(admin):
    return admin.dump()["accounts"][10]


def test_last_sync_is_inclusive_by_default(api, sandbox):
    account = _stamped_account(sandbox.admin)
    domains = f'["{account["domain"]}"]'
    found = api.data("/accounts", lastSync=account["updatedAt"], domains=domains)["data"]
    assert [a["rtp_aid"] for a in found] == [account["rtp_aid"]]


def test_last_sync_exclusive_flag_is_strict(flagged_api, flagged_process):
    account = _stamped_account(flagged_process.admin)
    domains = f'["{account["domain"]}"]'
    at = flagged_api.data("/accounts", lastSync=account["updatedAt"], domains=domains)["data"]
    assert at == []
    moment = datetime.fromisoformat(account["updatedAt"]) - timedelta(milliseconds=1)
    earlier = moment.isoformat(timespec="milliseconds")
    assert len(flagged_api.data("/accounts", lastSync=earlier, domains=domains)["data"]) == 1


def test_last_sync_accepts_offsets(api, sandbox):
    account = _stamped_account(sandbox.admin)
    domains = f'["{account["domain"]}"]'
    shifted = account["updatedAt"].replace("Z", "+00:00")
    assert len(api.data("/accounts", lastSync=shifted, domains=domains)["data"]) == 1


def test_domains_filter_normalises_each_entry(api, sandbox):
    first, second = sandbox.admin.dump()["accounts"][:2]
    domains = f'["https://www.{first["domain"]}/path", "WWW.{second["domain"].upper()}", "nope.io"]'
    found = api.data("/accounts", domains=domains)["data"]
    assert [a["rtp_aid"] for a in found] == [first["rtp_aid"], second["rtp_aid"]]


def test_domains_filter_over_100_entries_is_400(api):
    domains = "[" + ",".join(f'"d{i}.com"' for i in range(101)) + "]"
    response = api.get("/accounts", domains=domains)
    assert response.status_code == 400
    assert "arrayMaxSize" in response.json()["data"][0]["constraints"]


@pytest.mark.parametrize("domains", ["acme.com", "[1, 2]", '{"a": 1}', "[unterminated"])
def test_domains_filter_not_a_json_string_array_is_400(api, domains):
    assert api.get("/accounts", domains=domains).status_code == 400


def test_domains_filter_pages_with_cursor(api, sandbox):
    accounts = sandbox.admin.dump()["accounts"][:5]
    domains = "[" + ",".join(f'"{a["domain"]}"' for a in accounts) + "]"
    first = api.data("/accounts", domains=domains, limit=3)
    second = api.data("/accounts", domains=domains, limit=3, cursor=first["nextCursor"])
    assert first["hasNextPage"] is True
    assert second["hasNextPage"] is False
    assert [a["rtp_aid"] for a in first["data"] + second["data"]] == [
        a["rtp_aid"] for a in accounts
    ]


def test_seeded_data_has_unscored_and_unmapped_accounts(api):
    accounts = api.data("/accounts", limit=500)["data"]
    assert any(a["rtp_journey_stage"] == "" for a in accounts)
    assert any(a["externalId"] is None for a in accounts)
    stages = {a["rtp_journey_stage"] for a in accounts}
    assert stages == {"", "Unaware", "Aware", "Consideration", "Opportunity", "Customer"}
    assert all(0 <= a["rtp_account_score"] <= 100 for a in accounts)


def test_a_page_read_again_shows_every_change_made_since(api, sandbox):
    # Pages are encoded once per account version: each kind of change must reach a re-read.
    before = [a for page in _all_pages(api, limit=100) for a in page["data"]]
    first, second, third, fourth = before[0], before[1], before[100], before[249]
    api.write(
        "POST",
        "/accounts",
        {
            "accounts": [
                {"domain": first["domain"], "name": "Renamed", "customFields": {"NOTES_C": "n"}}
            ],
            "upsert": True,
        },
    )
    api.write("PUT", f"/accounts/{second['rtp_aid']}", {"customFields": {"INDUSTRY_C": "Retail"}})
    api.write(
        "PATCH",
        "/accounts/external-ids",
        {"mappings": [{"domain": third["domain"], "externalId": "Z9"}]},
    )
    sandbox.admin.rescore(rtp_aids=[fourth["rtp_aid"]])
    api.write("POST", "/accounts/custom-field", {"label": "Tier", "labelType": "number"})

    after = [a for page in _all_pages(api, limit=100) for a in page["data"]]
    stored = {a["rtp_aid"]: a for a in sandbox.admin.dump()["accounts"]}
    assert after != before
    assert all(account == {k: stored[account["rtp_aid"]][k] for k in account} for account in after)
    changed = {a["rtp_aid"]: a for a in after}
    assert changed[first["rtp_aid"]]["name"] == "Renamed"
    assert changed[first["rtp_aid"]]["customFields"]["NOTES_C"] == "n"
    assert changed[second["rtp_aid"]]["customFields"]["INDUSTRY_C"] == "Retail"
    assert changed[third["rtp_aid"]]["externalId"] == "Z9"
    assert changed[fourth["rtp_aid"]]["rtp_last_account_date"] != fourth["rtp_last_account_date"]
    assert all(a["customFields"]["TIER_C"] is None for a in after)
