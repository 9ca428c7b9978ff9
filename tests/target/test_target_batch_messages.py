"""BATCH messages: the records of a batch file get the same per-record handling as RECORDs.

A tap with `batch_config` writes records to files and sends a BATCH message naming them; the
SDK reads the files. Before, the target silently dropped those records and passed the STATE
after them on.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def _batch_file(tmp_path: Path, name: str, records: list[dict[str, Any]], *, gz: bool) -> str:
    data = "".join(json.dumps(record) + "\n" for record in records).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path.as_uri()


def _batch_message(stream: str, files: list[str], *, gz: bool) -> dict[str, Any]:
    encoding = {"format": "jsonl", "compression": "gzip" if gz else None}
    return {"type": "BATCH", "stream": stream, "encoding": encoding, "manifest": files}


def _accounts(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {"domain": f"{prefix}{i}.batch.example.org", "name": f"{prefix} {i}"} for i in range(count)
    ]


def _stored(sandbox) -> dict[str, str]:
    return {
        a["domain"]: a["name"]
        for a in sandbox.admin.dump()["accounts"]
        if a["domain"].endswith(".batch.example.org")
    }


def test_records_of_batch_files_are_sent_checked_and_reported_before_the_state(
    harness, sandbox, tmp_path
):
    plain = _accounts("plain", 150)
    zipped = _accounts("zipped", 30)
    zipped[7] = {"domain": "zipped7.batch.example.org"}  # no name: refused locally
    messages = [
        harness.schema("accounts", ["domain", "name"]),
        _batch_message("accounts", [_batch_file(tmp_path, "a.jsonl", plain, gz=False)], gz=False),
        _batch_message("accounts", [_batch_file(tmp_path, "b.jsonl.gz", zipped, gz=True)], gz=True),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "batch"}}}),
    ]

    result = harness.cli(messages)

    assert len(_stored(sandbox)) == 179
    assert "Summary accounts: 179 created, 1 refused" in result.stderr
    assert [line["record"] for line in result.failed] == [zipped[7]]
    assert "name is required" in result.failed[0]["reason"]
    assert result.exit_code == 1  # one refused record, max_failed_records 0
    assert result.states == [{"bookmarks": {"accounts": {"replication_key_value": "batch"}}}]


def test_a_batch_file_after_records_of_the_same_key_wins(harness, sandbox, tmp_path):
    first = {"domain": "same.batch.example.org", "name": "from a RECORD"}
    later = {"domain": "same.batch.example.org", "name": "from the BATCH file"}
    messages = [
        *harness.stream("accounts", [first]),
        _batch_message("accounts", [_batch_file(tmp_path, "c.jsonl", [later], gz=False)], gz=False),
    ]

    result = harness.cli(messages)

    assert result.exit_code == 0, result.stderr
    assert _stored(sandbox) == {"same.batch.example.org": "from the BATCH file"}


def test_batch_records_go_through_the_stream_map_like_records(harness, sandbox, tmp_path):
    rows = [
        {"website": f"https://www.mapped{i}.batch.example.org/", "company": f"M {i}"}
        for i in range(3)
    ]
    maps = {
        "companies": {
            "__alias__": "accounts",
            "domain": "website",
            "name": "company",
            "website": "__NULL__",
            "company": "__NULL__",
        }
    }
    messages = [
        harness.schema("companies", {"website": {"type": "string"}, "company": {"type": "string"}}),
        _batch_message("companies", [_batch_file(tmp_path, "m.jsonl", rows, gz=False)], gz=False),
    ]

    result = harness.cli(messages, stream_maps=maps)

    assert result.exit_code == 0, result.stderr
    assert _stored(sandbox) == {f"mapped{i}.batch.example.org": f"M {i}" for i in range(3)}


def test_a_batch_record_without_its_key_property_stops_the_run_as_a_record_does(
    harness, sandbox, tmp_path
):
    rows = [{"domain": "keyed.batch.example.org", "name": "Keyed"}, {"name": "No domain"}]
    messages = [
        harness.schema("accounts", ["domain", "name"], key=["domain"]),
        _batch_message("accounts", [_batch_file(tmp_path, "k.jsonl", rows, gz=False)], gz=False),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "keys"}}}),
    ]

    result = harness.cli(messages)

    assert result.exit_code == 1
    assert "Record is missing one or more key_properties" in result.stderr
    assert result.states == []  # nothing after the bad record is confirmed
