"""A 200 is not a confirmation: each item counts as delivered only when the answer says so.

The hostile server answers writes with envelopes that confirm nothing (`data: null`, `{}`,
results missing or not adding up), echoes an IDN domain in punycode and in another order, or
answers ambiguously. The target must credit and blame exactly the right records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile_server import HostileServer, Reply
from target_api import AccountsAPI, record, run_target, schema, target_config


def _failed(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "failed.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _mappings_run(hostile: HostileServer, tmp_path: Path, data: Any):
    hostile.always("PATCH", "/accounts/external-ids", Reply.envelope(data))
    mappings = [{"domain": f"m{i}.example.org", "externalId": f"crm-{i}"} for i in range(3)]
    messages = [
        schema("external_id_mappings", ["domain", "externalId"]),
        *(record("external_id_mappings", m) for m in mappings),
    ]
    return run_target(target_config(hostile, tmp_path), tmp_path, messages), mappings


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"matched": 3, "updated": 3},  # no notFound: nothing says which domains were found
        {"matched": 1, "updated": 1, "notFound": []},  # 3 sent, none missing, 1 matched
        {"matched": "3", "notFound": []},
    ],
)
def test_an_external_id_answer_that_confirms_nothing_fails_every_mapping(
    hostile: HostileServer, tmp_path: Path, data: Any
) -> None:
    run, mappings = _mappings_run(hostile, tmp_path, data)

    assert run.returncode == 1
    failed = _failed(tmp_path)
    assert [line["record"] for line in failed] == mappings
    assert all("Recotap's answer" in line["reason"] for line in failed)
    assert "Summary external_id_mappings: 3 failed" in run.stderr
    assert run.stdout == ""  # no STATE was sent in; none is made up


def test_an_external_id_answer_that_adds_up_confirms_the_found_mappings(
    hostile: HostileServer, tmp_path: Path
) -> None:
    data = {"matched": 2, "updated": 1, "notFound": ["m1.example.org"]}

    run, mappings = _mappings_run(hostile, tmp_path, data)

    assert [line["record"] for line in _failed(tmp_path)] == [mappings[1]]
    assert "Summary external_id_mappings: 2 updated, 1 failed" in run.stderr


def _custom_field_run(hostile: HostileServer, tmp_path: Path, data: Any):
    hostile.always("POST", "/accounts/custom-field", Reply.envelope(data))
    field = {"label": "Industry X", "labelType": "singleLineText"}
    messages = [schema("custom_fields", ["label", "labelType"]), record("custom_fields", field)]
    return run_target(target_config(hostile, tmp_path), tmp_path, messages)


@pytest.mark.parametrize("data", [None, {}, [], [{"key": "OTHER_C", "label": "Other"}], "ok"])
def test_a_custom_field_answer_that_confirms_nothing_fails_the_field(
    hostile: HostileServer, tmp_path: Path, data: Any
) -> None:
    run = _custom_field_run(hostile, tmp_path, data)

    assert run.returncode == 1
    failed = _failed(tmp_path)
    assert [line["record"]["label"] for line in failed] == ["Industry X"]
    assert "does not confirm the field INDUSTRY_X_C" in failed[0]["reason"]
    assert "Summary custom_fields: 1 failed" in run.stderr


def test_a_custom_field_answer_holding_the_definition_confirms_it(
    hostile: HostileServer, tmp_path: Path
) -> None:
    definition = {"key": "INDUSTRY_X_C", "label": "Industry X", "labelType": "singleLineText"}

    run = _custom_field_run(hostile, tmp_path, [definition])

    assert run.returncode == 0, run.stderr
    assert "Summary custom_fields: 1 created" in run.stderr


def _accounts_run(hostile: HostileServer, tmp_path: Path, accounts: list[dict[str, Any]]):
    messages = [schema("accounts", ["domain", "name"]), *(record("accounts", a) for a in accounts)]
    return run_target(target_config(hostile, tmp_path), tmp_path, messages)


@pytest.mark.parametrize("data", [None, {}, {"results": []}, {"results": "created"}])
def test_an_accounts_answer_without_results_fails_every_account(
    hostile: HostileServer, tmp_path: Path, data: Any
) -> None:
    hostile.always("POST", "/accounts", Reply.envelope(data))
    accounts = [{"domain": f"a{i}.example.org", "name": f"A {i}"} for i in range(3)]

    run = _accounts_run(hostile, tmp_path, accounts)

    assert run.returncode == 1
    assert [line["record"] for line in _failed(tmp_path)] == accounts
    assert "Summary accounts: 3 failed" in run.stderr


def test_results_echoing_a_punycode_domain_out_of_order_credit_the_right_records(
    hostile: HostileServer, tmp_path: Path
) -> None:
    api = AccountsAPI(hostile)
    error = "Unknown custom field key(s): X_C"
    api.reply = lambda accounts: Reply.envelope(
        {
            "results": [  # reversed, and the IDN domain in its ASCII form
                {"domain": "plain.example.org", "status": "failed", "error": error},
                {"rtp_aid": "a1", "domain": "xn--bcher-kva.example.org", "status": "created"},
            ]
        }
    )
    accounts = [
        {"domain": "Bücher.example.org", "name": "Bücher"},
        {"domain": "plain.example.org", "name": "Plain"},
    ]

    run = _accounts_run(hostile, tmp_path, accounts)

    failed = _failed(tmp_path)
    assert [line["record"] for line in failed] == [accounts[1]]
    assert failed[0]["reason"] == error
    assert "Summary accounts: 1 created, 1 failed" in run.stderr


def test_an_ambiguous_answer_fails_the_items_it_could_belong_to(
    hostile: HostileServer, tmp_path: Path
) -> None:
    api = AccountsAPI(hostile)
    api.reply = lambda accounts: Reply.envelope(
        {
            "results": [  # two results for the first domain, none for the second
                {"rtp_aid": "a1", "domain": "one.example.org", "status": "created"},
                {"rtp_aid": "a1", "domain": "one.example.org", "status": "updated"},
            ]
        }
    )
    accounts = [
        {"domain": "two.example.org", "name": "Two"},
        {"domain": "one.example.org", "name": "One"},
    ]

    run = _accounts_run(hostile, tmp_path, accounts)

    reasons = {line["record"]["domain"]: line["reason"] for line in _failed(tmp_path)}
    assert reasons["two.example.org"] == "Recotap returned no result for it"
    assert "ambiguous" in reasons["one.example.org"]
    assert "Summary accounts: 2 failed" in run.stderr
