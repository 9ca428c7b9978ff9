"""The /_sandbox/ admin API: reset, dump, stats, rescore, direct inserts."""

from __future__ import annotations

import time

import pytest
import requests

from recotap_sandbox.control import SandboxProcess


def test_reset_with_same_seed_gives_identical_dump(sandbox):
    admin = sandbox.admin
    admin.reset(seed_accounts=300, seed=11)
    first = admin.dump()
    admin.reset(seed_accounts=300, seed=11)
    assert admin.dump() == first
    admin.reset(seed_accounts=300, seed=12)
    assert admin.dump()["accounts"] != first["accounts"]


def test_reset_replaces_all_data(api, sandbox):
    api.write("POST", "/accounts", {"accounts": [{"domain": "gone.com", "name": "Gone"}]})
    api.write("POST", "/deals", {"deals": [{"externalDealId": "D", "name": "D"}]})
    assert sandbox.admin.reset() == 250
    dump = sandbox.admin.dump()
    assert len(dump["accounts"]) == 250
    assert dump["deals"] == []


def test_dump_shows_what_the_api_hides(sandbox):
    dump = sandbox.admin.dump()
    assert {"updatedAt", "shortName", "linkedinUrl", "tags"} <= set(dump["accounts"][0])
    assert {(s["type"], s["status"]) for s in dump["segments"]} == {
        (t, s) for t in ("static", "dynamic") for s in ("active", "draft", "archived")
    }
    assert any(f["status"] == "inactive" for f in dump["custom_fields"])
    assert all(members for members in dump["segment_members"].values())


def test_stats_count_requests_statuses_and_batches(api, sandbox):
    api.get("/accounts")
    api.get("/accounts", limit=0)
    aid = api.data("/accounts", limit=1)["data"][0]["rtp_aid"]
    api.write(
        "POST", "/accounts", {"accounts": [{"domain": f"s{i}.com", "name": "S"} for i in range(7)]}
    )
    api.write("PUT", f"/accounts/{aid}", {"customFields": {}})
    stats = sandbox.admin.stats()
    assert stats["requests"] == {
        "GET /api/v1/accounts": 3,
        "POST /api/v1/accounts": 1,
        "PUT /api/v1/accounts/{rtp_aid}": 1,
    }
    assert stats["statuses"] == {"200": 4, "400": 1}
    assert stats["batch_sizes"] == {
        "POST /api/v1/accounts": [7],
        "PUT /api/v1/accounts/{rtp_aid}": [1],
    }
    assert stats["faults_injected"] == dict.fromkeys(
        ["500", "502", "503", "429", "drop", "slow"], 0
    )


def test_reset_clears_stats(api, sandbox):
    api.get("/accounts")
    sandbox.admin.reset()
    assert sandbox.admin.stats()["requests"] == {}


def test_rescore_share_moves_accounts_into_the_last_sync_window(api, sandbox):
    sync = api.data("/accounts", limit=1)["syncTimestamp"]
    before = {a["rtp_aid"]: a for a in api.data("/accounts", limit=500)["data"]}
    rescored = sandbox.admin.rescore(share=0.1)
    assert len(rescored) == 25
    changed = api.data("/accounts", lastSync=sync, limit=500)["data"]
    assert [a["rtp_aid"] for a in changed] == rescored
    for account in changed:
        assert account["rtp_journey_stage"] in (
            "Unaware",
            "Aware",
            "Consideration",
            "Opportunity",
            "Customer",
        )
        assert account["rtp_last_account_date"] >= sync
        assert (
            account["rtp_last_account_date"] != before[account["rtp_aid"]]["rtp_last_account_date"]
        )


def test_rescore_exact_accounts(api, sandbox):
    aids = [a["rtp_aid"] for a in api.data("/accounts", limit=3)["data"]]
    assert sandbox.admin.rescore(rtp_aids=aids[1:]) == aids[1:]


def test_rescore_is_reproducible_after_reset(sandbox):
    first = sandbox.admin.rescore(share=0.05)
    sandbox.admin.reset()
    assert sandbox.admin.rescore(share=0.05) == first


def test_rescore_unknown_rtp_aid_is_400(sandbox):
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/rescore",
        json={"rtp_aids": ["ffffffffffffffffffffffff"]},
        timeout=5,
    )
    assert response.status_code == 400


def test_insert_accounts_directly(api, sandbox):
    aids = sandbox.admin.insert_accounts(
        [
            {
                "domain": "direct.com",
                "name": "Direct",
                "rtp_account_score": 77,
                "rtp_journey_stage": "Opportunity",
                "customFields": {"INDUSTRY_C": "Retail"},
            }
        ]
    )
    account = api.data("/accounts", domains='["direct.com"]')["data"][0]
    assert account["rtp_aid"] == aids[0]
    assert account["rtp_account_score"] == 77
    assert account["rtp_journey_stage"] == "Opportunity"
    assert sandbox.admin.stats()["requests"] == {"GET /api/v1/accounts": 1}


def test_periodic_rescoring_changes_accounts_without_client_writes():
    args = ["--seed-accounts", "50", "--rescore-every", "0.05", "--rescore-share", "0.2"]
    with SandboxProcess(args=args) as process:
        headers = {"X-Api-Key": process.api_key}
        url = f"{process.api_url}/accounts"
        sync = requests.get(url, headers=headers, timeout=5).json()["data"]["syncTimestamp"]
        for _ in range(100):
            changed = requests.get(url, params={"lastSync": sync}, headers=headers, timeout=5)
            if changed.json()["data"]["data"]:
                break
            time.sleep(0.02)
        assert changed.json()["data"]["data"]


@pytest.mark.parametrize("body", [b'{"seed_accounts": -1}', b'{"seed": "x"}', b"[1]", b"{oops"])
def test_bad_reset_body_is_400_and_keeps_data(sandbox, body):
    response = requests.post(f"{sandbox.base_url}/_sandbox/reset", data=body, timeout=5)
    assert response.status_code == 400
    assert len(sandbox.admin.dump()["accounts"]) == 250


def test_an_archived_segment_leaves_the_api_and_a_restored_one_returns(api, sandbox):
    listed = api.data("/segments", limit=100)["data"]
    gone = listed[0]["segmentId"]

    sandbox.admin.set_segment_status(gone, "archived")
    after = [s["segmentId"] for s in api.data("/segments", limit=100)["data"]]
    sandbox.admin.set_segment_status(gone, "active")
    restored = [s["segmentId"] for s in api.data("/segments", limit=100)["data"]]

    assert after == [s["segmentId"] for s in listed[1:]]
    assert restored == [s["segmentId"] for s in listed]
    with pytest.raises(requests.HTTPError):
        sandbox.admin.set_segment_status(gone, "deleted")
    with pytest.raises(requests.HTTPError):
        sandbox.admin.set_segment_status("no-such-segment", "archived")
