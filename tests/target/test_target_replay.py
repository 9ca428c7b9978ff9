"""The failed-records file can be replayed as it is, with the one documented command."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from target_recotap.replay import main as replay

TARGET_CLI = Path(sys.executable).parent / "target-recotap"


def _replay_command(failed: Path, config: Path) -> str:
    """docs/target.md's command, with this environment's interpreter and target."""
    python, target = shlex.quote(sys.executable), shlex.quote(str(TARGET_CLI))
    replay_part = f"{python} -m target_recotap.replay {shlex.quote(str(failed))}"
    return f"{replay_part} | {target} --config {shlex.quote(str(config))}"


def test_failed_records_are_pushed_again_once_the_cause_is_fixed(harness, sandbox, tmp_path):
    accounts = [
        {"domain": "replay1.example.org", "name": "R1", "customFields": {"TIER_C": "gold"}},
        {"domain": "not a domain", "name": "Refused"},
        {"domain": "replay2.example.org", "name": "R2", "customFields": {"TIER_C": "silver"}},
    ]
    deals = [{"externalDealId": "replay-d1", "name": "D1", "ownerEmail": "nobody@"}]
    first = harness.cli([*harness.stream("accounts", accounts), *harness.stream("deals", deals)])
    assert first.exit_code == 1
    assert sorted(line["record"]["name"] for line in first.failed) == ["D1", "R1", "R2", "Refused"]
    # Fix the cause of the API failures (the custom field), move the file aside, replay it.
    harness.run(harness.stream("custom_fields", [{"label": "Tier", "labelType": "singleLineText"}]))
    replayed = tmp_path / "replay.jsonl"
    harness.failed_path.rename(replayed)
    config = tmp_path / "replay-config.json"
    config.write_text(json.dumps(harness.config()))

    run = subprocess.run(  # noqa: S602 (the documented command line, as a user types it)
        _replay_command(replayed, config),
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    stored = {a["domain"]: a for a in sandbox.admin.dump()["accounts"]}
    assert stored["replay1.example.org"]["customFields"]["TIER_C"] == "gold"
    assert stored["replay2.example.org"]["customFields"]["TIER_C"] == "silver"
    assert "Summary accounts: 2 created, 1 refused" in run.stderr
    assert "Summary deals: 1 refused" in run.stderr
    # What is still wrong fails again, into the (new) failed-records file, and sets the exit.
    assert run.returncode == 1
    assert sorted(line["record"]["name"] for line in harness.failed()) == ["D1", "Refused"]
    assert run.stdout == ""  # a replay never emits STATE


def test_replay_prints_a_schema_per_stream_then_the_records_unchanged(tmp_path):
    failed = tmp_path / "failed.jsonl"
    lines = [
        '{"stream":"deals","record":{"externalDealId":"d1","amount":12345678901234567890.1234567},'
        '"reason":"x","time":"t"}',
        '{"stream":"accounts","record":{"domain":"a.example.org"},"reason":"y","time":"t"}',
        '{"stream":"deals","record":{"externalDealId":"d2","name":"Two"},"reason":"z","time":"t"}',
    ]
    failed.write_text("\n".join(lines) + "\n")
    out = io.BytesIO()

    assert replay([str(failed)], out) == 0

    messages = [json.loads(line, parse_float=Decimal) for line in out.getvalue().splitlines()]
    assert [(m["type"], m["stream"]) for m in messages] == [
        ("SCHEMA", "deals"),
        ("SCHEMA", "accounts"),
        ("RECORD", "deals"),
        ("RECORD", "accounts"),
        ("RECORD", "deals"),
    ]
    assert list(messages[0]["schema"]["properties"]) == ["externalDealId", "amount", "name"]
    assert messages[2]["record"]["amount"] == Decimal("12345678901234567890.1234567")
    assert messages[4]["record"] == {"externalDealId": "d2", "name": "Two"}


def test_replay_names_a_line_that_is_not_a_failed_record(tmp_path, capsys):
    failed = tmp_path / "failed.jsonl"
    failed.write_text('{"stream":"accounts","record":{}}\n{"torn":\n')

    assert replay([str(failed)], io.BytesIO()) == 1
    assert "line 2 is not a failed-records line" in capsys.readouterr().err
