"""Values the API would mis-store are stopped here: non-domains refused, empty strings absent."""

from __future__ import annotations

import pytest

NOT_DOMAINS = [
    "not a domain",
    "example",  # no dot: no company's domain
    "-bad-.example.org",
    "under_score.example.org",
    "a..b.example.org",
    "10.0.0.1",
    "https://",
    "   ",
    "exämple.c%m",
]


@pytest.mark.parametrize("domain", NOT_DOMAINS)
def test_an_account_whose_domain_is_not_a_hostname_is_refused_with_its_reason(
    harness, sandbox, domain
):
    good = {"domain": "good.example.org", "name": "Good"}
    bad = {"domain": domain, "name": "Bad"}

    result = harness.run(harness.stream("accounts", [good, bad]))

    assert result.counts("accounts") == {"created": 1, "refused": 1}
    assert result.failed[0]["record"] == bad
    reason = result.failed[0]["reason"]
    assert "domain is not a domain" in reason or "domain is required" in reason
    assert sandbox.admin.stats()["batch_sizes"]["POST /api/v1/accounts"] == [1]


@pytest.mark.parametrize("domain", ["bücher.example.org", "xn--bcher-kva.example.org", "a-b.co"])
def test_real_hostnames_pass_including_idns(harness, sandbox, domain):
    result = harness.run(harness.stream("accounts", [{"domain": domain, "name": "Fine"}]))

    assert result.counts("accounts") == {"created": 1}


def test_a_deal_naming_an_account_by_a_non_domain_is_refused(harness, sandbox):
    deal = {
        "externalDealId": "d-bad-domain",
        "name": "Deal",
        "associatedAccounts": [{"domain": "not a domain"}],
    }

    result = harness.run(harness.stream("deals", [deal]))

    assert result.counts("deals") == {"refused": 1}
    assert "associatedAccounts[0].domain is not a domain" in result.failed[0]["reason"]


def test_empty_strings_are_absent_values(harness, sandbox):
    account = {
        "domain": "blank.example.org",
        "name": "Blank",
        "externalId": "",
        "shortName": "  ",
        "customFields": {"INDUSTRY_C": ""},
    }

    result = harness.run(harness.stream("accounts", [account]))

    assert result.counts("accounts") == {"created": 1}
    stored = next(a for a in sandbox.admin.dump()["accounts"] if a["domain"] == "blank.example.org")
    assert stored["externalId"] is None  # still unmapped, so it can be mapped later
    assert stored["shortName"] is None
    assert stored["customFields"].get("INDUSTRY_C") is None


def test_an_empty_required_string_is_missing(harness, sandbox):
    mapping = {"domain": "blank.example.org", "externalId": ""}

    result = harness.run(harness.stream("external_id_mappings", [mapping]))

    assert result.counts("external_id_mappings") == {"refused": 1}
    assert "externalId is required" in result.failed[0]["reason"]
