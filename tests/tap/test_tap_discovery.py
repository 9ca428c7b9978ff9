"""Discovery: the accounts schema types customFields from the workspace's definitions."""

from __future__ import annotations

import re

from tap_helpers import api_post, run_tap

from tap_recotap.tap import TapRecotap


def _custom_fields_schema(config) -> dict:
    catalog = TapRecotap(config=config).catalog_dict
    accounts = next(s for s in catalog["streams"] if s["tap_stream_id"] == "accounts")
    return accounts["schema"]["properties"]["customFields"]["properties"]


def test_custom_fields_are_typed_by_label_type(tap_config):
    fields = _custom_fields_schema(tap_config)

    assert fields["ANNUAL_REVENUE_C"] == {"type": ["number", "null"]}
    assert fields["RENEWAL_DATE_C"] == {"type": ["string", "null"], "format": "date"}
    assert fields["PRODUCT_INTEREST_C"] == {"type": ["array", "null"], "items": {"type": "string"}}
    for text_field in ("INDUSTRY_C", "ACCOUNT_OWNER_C", "NOTES_C"):
        assert fields[text_field] == {"type": ["string", "null"]}
    assert "LEGACY_TIER_C" not in fields  # inactive fields are not listed by the API (§4.6)


def test_a_field_created_later_appears_on_rediscovery(sandbox, tap_config):
    assert "CONTRACT_VALUE_C" not in _custom_fields_schema(tap_config)
    api_post(sandbox, "/accounts/custom-field", {"label": "Contract Value", "labelType": "number"})

    assert _custom_fields_schema(tap_config)["CONTRACT_VALUE_C"] == {"type": ["number", "null"]}


def test_record_values_fit_their_discovered_types(tap_config):
    run = run_tap(tap_config, only="accounts")
    values = [r["customFields"] for r in run.records("accounts")]

    revenues = [v["ANNUAL_REVENUE_C"] for v in values if v["ANNUAL_REVENUE_C"] is not None]
    dates = [v["RENEWAL_DATE_C"] for v in values if v["RENEWAL_DATE_C"] is not None]
    interests = [v["PRODUCT_INTEREST_C"] for v in values if v["PRODUCT_INTEREST_C"] is not None]
    assert revenues
    assert dates
    assert interests
    assert all(isinstance(x, (int, float)) for x in revenues)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", x) for x in dates)
    assert all(isinstance(i, str) for x in interests for i in x)
