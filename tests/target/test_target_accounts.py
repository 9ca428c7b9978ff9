"""Accounts: batching, upsert, coalescing, custom-field columns, segments, tap-shaped input."""

from __future__ import annotations

import logging

STATIC_DRAFT = ("static", "draft")


def _accounts(count: int, prefix: str = "new") -> list[dict]:
    return [{"domain": f"{prefix}{i}.example.org", "name": f"New {i}"} for i in range(count)]


def _by_domain(sandbox) -> dict[str, dict]:
    return {a["domain"]: a for a in sandbox.admin.dump()["accounts"]}


def _batches(sandbox, route: str = "POST /api/v1/accounts") -> list[int]:
    return sandbox.admin.stats()["batch_sizes"].get(route, [])


def test_batches_are_clamped_to_the_api_cap_of_100(harness, sandbox):
    result = harness.run(harness.stream("accounts", _accounts(250)), batch_size_rows=1000)

    assert _batches(sandbox) == [100, 100, 50]
    assert result.counts("accounts") == {"created": 250}
    assert result.exit_code == 0
    assert "new249.example.org" in _by_domain(sandbox)


def test_a_smaller_batch_size_rows_is_honoured(harness, sandbox):
    harness.run(harness.stream("accounts", _accounts(25)), batch_size_rows=10)

    # Sorted: batches in flight together may reach the sandbox in either order.
    assert sorted(_batches(sandbox)) == [5, 10, 10]


def test_upsert_updates_an_existing_domain(harness, sandbox):
    existing = sandbox.admin.dump()["accounts"][0]
    record = {"domain": f"https://www.{existing['domain']}/about", "name": "Renamed Inc"}

    result = harness.run(harness.stream("accounts", [record]))

    assert result.counts("accounts") == {"updated": 1}
    stored = _by_domain(sandbox)[existing["domain"]]
    assert stored["name"] == "Renamed Inc"
    assert stored["rtp_aid"] == existing["rtp_aid"]


def test_upsert_off_reports_existing_domains_and_exits_non_zero(harness, sandbox):
    existing = sandbox.admin.dump()["accounts"][0]["domain"]
    records = [{"domain": existing, "name": "Clash"}, {"domain": "fresh.example.org", "name": "F"}]

    result = harness.cli(harness.stream("accounts", records), upsert=False)

    assert result.exit_code == 1
    assert [line["record"]["domain"] for line in result.failed] == [existing]
    assert "upsert" in result.failed[0]["reason"]
    assert result.failed[0]["stream"] == "accounts"
    assert "fresh.example.org" in _by_domain(sandbox)
    assert _by_domain(sandbox)[existing]["name"] != "Clash"
    assert "1 record(s) were refused or failed" in result.stderr


def test_records_for_one_domain_in_a_batch_become_one_item(harness, sandbox):
    records = [
        {"domain": "https://www.Dup.example.org/a", "name": "1", "customFields": {"NOTES_C": "n"}},
        {"domain": "dup.example.org", "name": "Second", "customFields": {"INDUSTRY_C": "Retail"}},
    ]

    result = harness.run(harness.stream("accounts", records))

    assert _batches(sandbox) == [1]
    assert result.counts("accounts") == {"created": 1, "superseded": 1}
    stored = _by_domain(sandbox)["dup.example.org"]
    assert stored["name"] == "Second"
    assert stored["customFields"]["NOTES_C"] == "n"
    assert stored["customFields"]["INDUSTRY_C"] == "Retail"


def test_each_superseded_duplicate_is_warned_with_both_records_and_counted(harness, target_logs):
    records = [
        {"domain": "dupe.example.org", "name": "A", "externalId": "crm-1"},
        {"domain": "other.example.org", "name": "Other"},
        {"domain": "https://www.dupe.example.org/", "name": "B", "externalId": "crm-2"},
        {"domain": "DUPE.example.org", "name": "C"},
    ]

    result = harness.run(harness.stream("accounts", records))

    assert result.counts("accounts") == {"created": 2, "superseded": 2}
    warnings = [r.getMessage() for r in target_logs.records if r.levelno == logging.WARNING]
    assert warnings == [
        "accounts: record #3 (externalId 'crm-2') supersedes record #1 (externalId 'crm-1'): "
        "same domain dupe.example.org in one batch, so one item is sent and the later "
        "record's values win (customFields of both are merged)",
        "accounts: record #4 supersedes record #3 (externalId 'crm-2'): same domain "
        "dupe.example.org in one batch, so one item is sent and the later record's values win "
        "(customFields of both are merged)",
    ]
    summaries = [
        r.getMessage() for r in target_logs.records if "Summary accounts" in r.getMessage()
    ]
    assert summaries == ["Summary accounts: 2 created, 2 superseded (1 write requests)"]


def test_custom_field_columns_are_routed_and_unknown_columns_warned_once(harness, sandbox, caplog):
    caplog.set_level(logging.WARNING)
    records = [
        {
            "domain": f"cols{i}.example.org",
            "name": "Cols",
            "INDUSTRY_C": "Finance",
            "crm_owner": "x",
            "rtp_account_score": 55,
            "favourite_colour": "blue",
        }
        for i in range(3)
    ]

    result = harness.run(harness.stream("accounts", records))

    assert result.counts("accounts") == {"created": 3}
    assert _by_domain(sandbox)["cols0.example.org"]["customFields"]["INDUSTRY_C"] == "Finance"
    warnings = [r.getMessage() for r in caplog.records if "dropping column" in r.getMessage()]
    assert len(warnings) == 1
    assert "crm_owner" in warnings[0]
    assert "favourite_colour" in warnings[0]
    assert "rtp_account_score" not in warnings[0]
    assert "INDUSTRY_C" not in warnings[0]


def test_valid_segment_gets_every_pushed_account(harness, sandbox):
    segments = sandbox.admin.dump()["segments"]
    segment = next(s["segmentId"] for s in segments if (s["type"], s["status"]) == STATIC_DRAFT)
    existing = sandbox.admin.dump()["accounts"][3]["domain"]
    records = [*_accounts(3, "seg"), {"domain": existing, "name": "Existing"}]

    result = harness.run(harness.stream("accounts", records), segment_id=segment)

    assert result.exit_code == 0
    accounts = _by_domain(sandbox)
    members = set(sandbox.admin.dump()["segment_members"][segment])
    for record in records:
        assert accounts[record["domain"]]["rtp_aid"] in members


def test_accounts_as_tap_recotap_emits_them_push_without_warnings(harness, sandbox, caplog):
    caplog.set_level(logging.WARNING)
    record = {
        "rtp_aid": "6552e6b4f2a74d00000000aa",
        "externalId": "crm-1",
        "name": "Tap Shaped",
        "domain": "tapshaped.example.org",
        "rtp_account_score": 61,
        "rtp_journey_stage": "Consideration",
        "rtp_advertising_activity_score": 1,
        "rtp_website_intent_score": 2,
        "rtp_g2_intent_score": 3,
        "rtp_bombora_intent_score": 4,
        "rtp_last_account_date": "2025-01-01T00:00:00.000Z",
        "customFields": {"INDUSTRY_C": "Retail", "RENEWAL_DATE_C": "2026-03-15", "NOTES_C": None},
        "_sdc_sync_timestamp": "2025-01-02T00:00:00.000Z",
    }

    result = harness.run(harness.stream("accounts", [record]))

    assert result.counts("accounts") == {"created": 1}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    stored = _by_domain(sandbox)["tapshaped.example.org"]
    assert stored["externalId"] == "crm-1"
    assert stored["customFields"]["RENEWAL_DATE_C"] == "2026-03-15"
    assert stored["rtp_account_score"] == 0  # §2.9: scores are Recotap's, never pushed


def test_records_before_a_schema_change_are_sent_before_records_after_it(harness, sandbox):
    # The SDK keeps the retired sink's records until the next full drain; the new sink's first
    # full batch must not overtake them, or the older values would win in Recotap.
    domains = [f"schema-change-{i}.example.org" for i in range(20)]
    before = [{"domain": d, "name": "before the change"} for d in domains[:10]]  # not full
    after = [{"domain": d, "name": "after the change", "shortName": "new"} for d in domains]
    messages = [
        harness.schema("accounts", ["domain", "name"]),
        *({"type": "RECORD", "stream": "accounts", "record": r} for r in before),
        harness.schema("accounts", ["domain", "name", "shortName"]),
        *({"type": "RECORD", "stream": "accounts", "record": r} for r in after),
    ]

    result = harness.run(messages, batch_size_rows=len(after))

    assert result.counts("accounts") == {"created": 20, "updated": 10}
    assert {_by_domain(sandbox)[d]["name"] for d in domains} == {"after the change"}
