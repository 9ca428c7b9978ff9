"""`validate_records: true` (base_sink.SchemaCheck), in-process over loopback HTTP: a record its
SCHEMA refuses is one refused record, with the schema's reason; every other record lands.

`test_target_cli.py` checks this through the `target-recotap` command, which mutation testing
cannot credit (docs/mutation.md).
"""

from __future__ import annotations

STRING = {"type": "string"}


def _run(harness, records: list[dict], schema: dict, **settings):
    messages = [
        {"type": "SCHEMA", "stream": "accounts", "schema": schema, "key_properties": ["domain"]},
        *({"type": "RECORD", "stream": "accounts", "record": r} for r in records),
        {"type": "STATE", "value": {"bookmarks": {"src": 1}}},
    ]
    return harness.run(messages, **settings)


def _stored(sandbox) -> set[str]:
    return {a["domain"] for a in sandbox.admin.dump()["accounts"]}


def test_each_record_its_schema_refuses_is_refused_with_the_schemas_reason(harness, sandbox):
    schema = {"properties": {"domain": STRING, "name": STRING}}
    records = [
        {"domain": "a.check.example", "name": "A"},
        {"domain": "b.check.example", "name": 123},
        {"domain": "c.check.example", "name": "C"},
        {"domain": "d.check.example", "name": ["D"]},
        {"domain": "e.check.example", "name": "E"},
    ]

    result = _run(harness, records, schema, validate_records=True, max_failed_records=5)

    assert result.counts("accounts") == {"created": 3, "refused": 2}
    assert _stored(sandbox) >= {"a.check.example", "c.check.example", "e.check.example"}
    assert not _stored(sandbox) & {"b.check.example", "d.check.example"}
    refused = {line["record"]["domain"]: line["reason"] for line in harness.failed()}
    assert set(refused) == {"b.check.example", "d.check.example"}
    assert "does not match its SCHEMA" in refused["b.check.example"]
    assert "123 is not of type 'string'" in refused["b.check.example"]
    assert "['D'] is not of type 'string'" in refused["d.check.example"]
    assert result.states == [{"bookmarks": {"src": 1}}]  # the good records were confirmed


def test_string_formats_are_not_checked_as_with_the_sdks_own_check(harness, sandbox):
    # singer-sdk validates records without their string formats unless a target asks for them;
    # a tap's loose `format` annotation must not refuse a record Recotap accepts.
    schema = {"properties": {"domain": STRING, "name": {"type": "string", "format": "email"}}}

    result = _run(
        harness, [{"domain": "f.check.example", "name": "F"}], schema, validate_records=True
    )

    assert result.counts("accounts") == {"created": 1}
    assert harness.failed() == []


def test_without_validate_records_the_schema_is_not_checked(harness, sandbox):
    schema = {"properties": {"domain": STRING, "name": {"type": "integer"}}}

    result = _run(harness, [{"domain": "g.check.example", "name": "G"}], schema)

    assert result.counts("accounts") == {"created": 1}
    assert "g.check.example" in _stored(sandbox)
