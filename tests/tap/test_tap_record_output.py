"""What reaches stdout: records shaped by the catalog, without the SDK's type conformance.

The tap writes JSON-decoded records without type conformance (docs/tap.md "Performance"); these
tests pin what the catalog still decides: unknown keys dropped, deselected properties left out,
values never altered; and that the block writer keeps every message, in order, in whole lines.
"""

from __future__ import annotations

import io
import json
import logging
import sys

from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage
from tap_helpers import captured_stdout, parse_messages

from tap_recotap.output import BLOCK_BYTES, RecordBlockWriter
from tap_recotap.tap import TapRecotap


def _accounts_catalog(config) -> dict:
    catalog = TapRecotap(config=config).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "accounts"
    return catalog


def _accounts(catalog_dict: dict) -> dict:
    return next(s for s in catalog_dict["streams"] if s["tap_stream_id"] == "accounts")


def _run(config, catalog) -> list[dict]:
    with captured_stdout() as out:
        TapRecotap(config=config, catalog=catalog).sync_all()
    return parse_messages(out.getvalue())


def _records(messages: list[dict]) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD"]


def test_a_field_missing_from_a_stale_catalog_is_dropped_with_a_warning(tap_config, caplog):
    catalog = _accounts_catalog(tap_config)
    del _accounts(catalog)["schema"]["properties"]["rtp_g2_intent_score"]

    with caplog.at_level(logging.WARNING):
        records = _records(_run(tap_config, catalog))

    assert len(records) == 250
    assert not any("rtp_g2_intent_score" in record for record in records)
    assert all("rtp_bombora_intent_score" in record for record in records)
    warnings = [r.getMessage() for r in caplog.records if "not found in catalog" in r.getMessage()]
    assert len(warnings) == 1
    assert "rtp_g2_intent_score" in warnings[0]


def test_deselected_properties_are_left_out_of_records_and_schema(tap_config):
    catalog = _accounts_catalog(tap_config)
    for entry in _accounts(catalog)["metadata"]:
        if entry["breadcrumb"] in (["properties", "name"], ["properties", "customFields"]):
            entry["metadata"]["selected"] = False

    messages = _run(tap_config, catalog)

    schema = next(m["schema"] for m in messages if m["type"] == "SCHEMA")
    assert "name" not in schema["properties"]
    assert "customFields" not in schema["properties"]
    records = _records(messages)
    assert len(records) == 250
    assert not any("name" in record or "customFields" in record for record in records)
    assert all(record["domain"] for record in records)


def test_a_custom_field_value_of_another_type_than_the_catalog_says_passes_unchanged(
    sandbox, tap_config
):
    # The catalog says number; the API sends the industry names. The SDK's conformance would not
    # have changed them either: no value is nulled or coerced, the target decides.
    catalog = _accounts_catalog(tap_config)
    custom = _accounts(catalog)["schema"]["properties"]["customFields"]
    custom["properties"]["INDUSTRY_C"] = {"type": ["number", "null"]}

    records = _records(_run(tap_config, catalog))

    sent = {a["rtp_aid"]: a["customFields"]["INDUSTRY_C"] for a in sandbox.admin.dump()["accounts"]}
    assert {r["rtp_aid"]: r["customFields"]["INDUSTRY_C"] for r in records} == sent
    assert any(isinstance(value, str) for value in sent.values())


def test_the_writer_keeps_records_until_a_state_and_then_writes_everything_in_order():
    raw = io.BytesIO()
    stdout, sys.stdout = sys.stdout, io.TextIOWrapper(raw, write_through=True)
    try:
        writer = RecordBlockWriter()
        writer.write_message(SchemaMessage("accounts", {"type": "object"}, ["rtp_aid"]))
        after_schema = raw.getvalue()
        for n in range(3):
            writer.write_message(RecordMessage("accounts", {"rtp_aid": str(n)}))
        before_state = raw.getvalue()
        writer.write_message(StateMessage({"bookmarks": {}}))
        lines = raw.getvalue().decode().splitlines()
    finally:
        sys.stdout = stdout

    assert json.loads(after_schema)["type"] == "SCHEMA"  # written at once
    assert before_state == after_schema  # records wait for the next non-RECORD message
    assert [json.loads(line)["type"] for line in lines] == ["SCHEMA", *["RECORD"] * 3, "STATE"]
    assert [json.loads(line)["record"]["rtp_aid"] for line in lines[1:4]] == ["0", "1", "2"]


class _Pipe(io.BytesIO):
    """A stdout that records every write it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data) -> int:
        self.writes.append(bytes(data))
        return super().write(data)


def test_the_writer_sends_records_in_whole_lines_no_larger_than_an_atomic_pipe_write():
    pipe = _Pipe()
    stdout, sys.stdout = sys.stdout, io.TextIOWrapper(pipe, write_through=True)
    try:
        writer = RecordBlockWriter()
        record = {"rtp_aid": "x", "notes": "n" * 1000}
        for _ in range(10):
            writer.write_message(RecordMessage("accounts", record))
        before_state = list(pipe.writes)
        writer.write_message(StateMessage({"bookmarks": {}}))
        writes = list(pipe.writes)
    finally:
        sys.stdout = stdout

    # Full blocks go out without waiting for a STATE; a killed tap leaves no half line behind.
    assert before_state
    assert all(len(w) <= BLOCK_BYTES and w.endswith(b"\n") for w in writes)
    lines = b"".join(writes).decode().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["RECORD"] * 10 + ["STATE"]
