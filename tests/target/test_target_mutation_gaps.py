"""In-process checks of promises that, before, only a `target-recotap` process checked.

mutmut credits a test only with the calls it makes in its own process (docs/mutation.md): these
run the target through the in-process harness, so the mutants of failures.py and validation.py
they guard are counted. Each asserts what a user reads: the exact error, the failed-records
line, the file on disk, what reached the API.
"""

from __future__ import annotations

import logging
import stat

import pytest
from singer_sdk.exceptions import ConfigValidationError


def _accounts(count: int) -> list[dict]:
    return [{"domain": f"gap{i}.example.org", "name": f"Gap {i}"} for i in range(count)]


def test_an_unwritable_failed_records_path_is_refused_at_start_up(harness, sandbox, tmp_path):
    path = tmp_path / "failed.jsonl"
    path.mkdir()  # a directory where the file should be

    with pytest.raises(ConfigValidationError) as raised:
        harness.run(harness.stream("accounts", _accounts(2)), failed_records_path=str(path))

    assert str(raised.value) == f"failed_records_path '{path}' cannot be written: Is a directory"
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


def test_without_failed_records_path_a_refused_record_is_still_counted(harness, sandbox):
    records = [{"domain": "gap-bad.example.org"}, *_accounts(2)]

    result = harness.run(harness.stream("accounts", records), failed_records_path=None)

    assert result.counts("accounts") == {"created": 2, "refused": 1}
    assert not harness.failed_path.exists()


def test_a_full_disk_stops_the_run_with_a_clear_error_and_no_state(harness, target_logs, full_disk):
    messages = [
        *harness.stream("accounts", [{"domain": "gap-bad.example.org"}, *_accounts(2)]),
        harness.state({"bookmarks": {"accounts": {"replication_key_value": "x"}}}),
    ]

    with pytest.raises(OSError, match="could not be written") as raised:
        harness.run(messages, failed_records_path=str(full_disk))

    message = f"failed_records_path '{full_disk}' could not be written: No space left on device"
    assert str(raised.value) == message
    errors = [r.getMessage() for r in target_logs.records if r.levelno == logging.ERROR]
    assert (
        f"{message}. The run stops without emitting STATE, so the next run handles this "
        "record again; free space or fix the path, then re-run."
    ) in errors


def test_the_failed_records_file_is_a_plain_data_file(harness):
    result = harness.run(harness.stream("accounts", [{"domain": "gap-bad.example.org"}]))

    assert len(result.failed) == 1
    assert stat.S_IMODE(harness.failed_path.stat().st_mode) & 0o111 == 0  # not executable


def test_blank_strings_are_absent_and_all_problems_are_reported_together(harness, sandbox):
    records = [
        {"domain": "gap-blank.example.org", "name": " \t "},
        {"domain": "", "name": ""},
        *_accounts(1),
    ]

    result = harness.run(harness.stream("accounts", records))

    assert [line["reason"] for line in result.failed] == [
        "name is required",
        "domain is required; name is required",
    ]
    assert result.counts("accounts") == {"created": 1, "refused": 2}


def test_a_domain_of_the_longest_hostname_length_is_accepted(harness, sandbox):
    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])
    assert len(domain) == 253  # the most a DNS name may have

    result = harness.run(harness.stream("accounts", [{"domain": domain, "name": "Longest"}]))

    assert result.failed == []
    assert result.counts("accounts") == {"created": 1}
