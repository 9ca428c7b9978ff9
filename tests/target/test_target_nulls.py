"""Nulls never clear Recotap data unless the user asks for it (`clear_custom_fields_with_null`).

A NULL in a CRM column usually means "not known here". The API writes every custom-field key
it is sent (§4.2), so a null sent would erase the value stored in Recotap.
"""

from __future__ import annotations

DOMAIN = "nulls.example.org"
FULL = {
    "domain": DOMAIN,
    "name": "Nulls Inc",
    "externalId": "crm-1",
    "customFields": {"INDUSTRY_C": "Retail", "NOTES_C": "keep me"},
}
# The same account from a later sync: unknown values come as nulls, at every level.
WITH_NULLS = {
    "domain": DOMAIN,
    "name": "Nulls Renamed",
    "externalId": None,
    "tags": None,
    "customFields": {"INDUSTRY_C": None},
    "NOTES_C": None,  # a column mapped into customFields
}


def _stored(sandbox) -> dict:
    return next(a for a in sandbox.admin.dump()["accounts"] if a["domain"] == DOMAIN)


def test_nulls_are_never_sent_by_default(harness, sandbox):
    harness.run(harness.stream("accounts", [FULL]))

    result = harness.run(harness.stream("accounts", [WITH_NULLS]))

    assert result.counts("accounts") == {"updated": 1}
    stored = _stored(sandbox)
    assert stored["name"] == "Nulls Renamed"
    assert stored["externalId"] == "crm-1"
    assert stored["customFields"]["INDUSTRY_C"] == "Retail"
    assert stored["customFields"]["NOTES_C"] == "keep me"


def test_clear_custom_fields_with_null_clears_only_custom_fields(harness, sandbox):
    harness.run(harness.stream("accounts", [FULL]))

    result = harness.run(
        harness.stream("accounts", [WITH_NULLS]), clear_custom_fields_with_null=True
    )

    assert result.counts("accounts") == {"updated": 1}
    stored = _stored(sandbox)
    assert stored["customFields"]["INDUSTRY_C"] is None
    assert stored["customFields"]["NOTES_C"] is None
    assert stored["externalId"] == "crm-1"  # top-level nulls are never sent
