"""A NULL from the source never clears a value in Recotap (issue 14, item 11).

A CRM column that is NULL arrives as `null` in a RECORD, at the top level or in `customFields`
(a tap reading Recotap itself emits every custom field, null when unset). docs/target.md
promises that an upsert never clears a field, so such a record must leave the stored value as
it was. The whole workspace is compared as a user would read it back, nulls included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reliability_helpers import (
    TARGET,
    by_domain,
    custom_keys,
    expected_account,
    figures,
    run_plugin,
    singer_lines,
    stored_account,
    write_config,
    write_lines,
)

from recotap_sandbox.control import SandboxProcess


def with_values(dump: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Seeded accounts that hold a value in every one of `keys`."""
    return [a for a in dump if all(a["customFields"].get(key) is not None for key in keys)]


def changed_fields(expected: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """Names of the fields (custom ones by key) whose stored value is not the expected one."""
    custom = [k for k, v in expected["customFields"].items() if stored["customFields"][k] != v]
    top = [k for k, v in expected.items() if k != "customFields" and stored[k] != v]
    return top + custom


def test_null_custom_field_values_leave_the_stored_values_intact(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any
) -> None:
    dump = sandbox.admin.dump()["accounts"]
    keys = custom_keys(sandbox)
    first, second, third = with_values(dump, "INDUSTRY_C", "NOTES_C")[:3]
    records = [
        # The case of issue 14: one null custom field next to a real change.
        {
            "domain": first["domain"],
            "name": first["name"],
            "customFields": {"INDUSTRY_C": None, "NOTES_C": "changed by the CRM"},
        },
        # A tap-shaped record: every custom field present, all null; externalId null too.
        {
            "domain": second["domain"],
            "name": second["name"],
            "externalId": None,
            "customFields": dict.fromkeys(keys),
        },
        # Nulls at the top level only.
        {"domain": third["domain"], "name": "Renamed", "tags": None, "shortName": None},
    ]
    before = by_domain(dump, stored_account)
    source = write_lines(tmp_path / "in.singer", singer_lines("accounts", "domain", records))
    config = write_config(tmp_path / "target.json", sandbox)

    with source.open("rb") as stdin:
        result = run_plugin([TARGET, "--config", str(config)], stdin=stdin)

    assert result.returncode == 0, result.stderr[-3000:]
    expected = dict(before)
    for record in records:
        expected[record["domain"]] = expected_account(record, keys, before[record["domain"]])
    after = by_domain(sandbox.admin.dump()["accounts"], stored_account)
    wiped = {
        domain: changed_fields(view, after[domain])
        for domain, view in expected.items()
        if view != after[domain]
    }
    assert wiped == {}, f"stored values changed by nulls: {json.dumps(wiped)}"
    assert after == expected
    assert after[first["domain"]]["customFields"]["NOTES_C"] == "changed by the CRM"
    figures(
        record_property,
        f"nulls: {len(records)} records with null values pushed over stored ones, "
        f"{len(after)} accounts compared field by field, nulls included",
    )
