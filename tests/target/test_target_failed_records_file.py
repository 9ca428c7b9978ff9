"""The failed-records file: checked at start-up, whole lines only, a write error is clear.

Running as root, permissions do not make a path unwritable: a directory in its place, a file in
place of its parent directory, /dev/full (every write: no space left) and a file size limit
(a write that stops half-way, as on a full disk) do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TARGET_CLI = Path(sys.executable).parent / "target-recotap"


def _accounts(count: int, **extra) -> list[dict]:
    return [{"domain": f"frf{i}.example.org", "name": f"F {i}", **extra} for i in range(count)]


def _no_write_reached(sandbox) -> bool:
    return "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


@pytest.mark.parametrize("kind", ["a directory", "under a regular file"])
def test_an_unwritable_failed_records_path_stops_the_run_before_reading_input(
    harness, sandbox, tmp_path, kind
):
    if kind == "a directory":
        path = tmp_path / "failed"
        path.mkdir()
    else:
        (tmp_path / "plain-file").write_text("not a directory")
        path = tmp_path / "plain-file" / "failed.jsonl"

    result = harness.cli(harness.stream("accounts", _accounts(3)), failed_records_path=str(path))

    assert result.exit_code == 1
    assert f"failed_records_path '{path}' cannot be written" in result.stderr
    assert "Traceback" not in result.stderr
    assert _no_write_reached(sandbox)


def test_the_start_up_check_leaves_no_empty_file_behind(harness, sandbox):
    result = harness.cli(harness.stream("accounts", _accounts(3)))

    assert result.exit_code == 0
    assert not harness.failed_path.exists()  # nothing failed: no file


@pytest.mark.parametrize(
    ("bad", "logged"),
    [
        ({"domain": "frf-bad.example.org"}, "'frf-bad.example.org' refused locally: name is"),
        (  # failed by the API, reported from a worker thread
            {"domain": "frf-bad.example.org", "name": "B", "customFields": {"NO_SUCH_C": 1}},
            "frf-bad.example.org failed: Unknown custom field key(s): NO_SUCH_C",
        ),
    ],
)
def test_a_full_disk_is_a_clear_error_and_the_run_stops_without_state(
    harness, sandbox, full_disk, bad, logged
):
    messages = [
        *harness.stream("accounts", [bad, *_accounts(3)]),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "x"}}}),
    ]

    result = harness.cli(messages, failed_records_path=str(full_disk))

    assert result.exit_code == 1
    assert logged in result.stderr
    assert f"failed_records_path '{full_disk}' could not be written: No space left on device" in (
        result.stderr
    )
    assert "The run stops without emitting STATE" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.states == []


def test_a_write_that_stops_half_way_leaves_only_whole_lines(harness, sandbox, tmp_path):
    # Each refused record's line is ~400 bytes; the file may grow to 1,000: the third line is
    # cut short by the limit, as by a full disk.
    records = [{"domain": f"frf-half{i}.example.org", "shortName": "x" * 300} for i in range(3)]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(harness.config()))
    limited = (
        "import os, resource, sys; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000)); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )

    result = subprocess.run(
        [sys.executable, "-c", limited, str(TARGET_CLI), "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in harness.stream("accounts", records)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "could not be written: only" in result.stderr
    lines = harness.failed_path.read_bytes().splitlines(keepends=True)
    assert [json.loads(line)["record"] for line in lines] == records[:2]
    assert all(line.endswith(b"\n") for line in lines)
