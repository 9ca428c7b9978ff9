"""The real `tap-recotap` command: about, discovery from the environment, --test, a full run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tap_helpers import parse_messages

from tap_recotap.tap import TapRecotap

TAP = str(Path(sys.executable).parent / "tap-recotap")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAP_RECOTAP_")}
    return subprocess.run(
        [TAP, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def _config_file(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_about_markdown_lists_every_setting_with_a_description():
    result = _run("--about", "--format=markdown")

    assert result.returncode == 0
    rows = {
        line.split("|")[1].strip(): line.split("|")[4].strip()
        for line in result.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| Setting")
    }
    for name in TapRecotap.config_jsonschema["properties"]:
        assert rows.get(name), f"{name} is missing or has no description"
    assert "- `test`" in result.stdout


def test_a_full_run_then_a_run_from_its_state(sandbox, tmp_path):
    config = _config_file(
        tmp_path, {"api_key": sandbox.api_key, "api_url": sandbox.api_url, "page_size": 100}
    )

    first = _run("--config", config)

    assert first.returncode == 0, first.stderr[-2000:]
    messages = parse_messages(first.stdout)
    records = [m for m in messages if m["type"] == "RECORD"]
    schemas = {m["stream"] for m in messages if m["type"] == "SCHEMA"}
    assert schemas == {"accounts", "segments", "custom_fields", "unmapped_accounts"}
    accounts = [m["record"] for m in records if m["stream"] == "accounts"]
    assert len({a["rtp_aid"] for a in accounts}) == len(accounts) == 250
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    first_page_time = datetime.fromisoformat(accounts[0]["_sdc_sync_timestamp"])
    saved = datetime.fromisoformat(state["bookmarks"]["accounts"]["replication_key_value"])
    assert saved == first_page_time - timedelta(seconds=5)  # the default look-back
    assert sandbox.api_key not in first.stdout + first.stderr

    rescored = set(sandbox.admin.rescore(share=0.02))
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    second = _run("--config", config, "--state", str(state_file))

    assert second.returncode == 0, second.stderr[-2000:]
    again = {
        m["record"]["rtp_aid"]
        for m in parse_messages(second.stdout)
        if m["type"] == "RECORD" and m["stream"] == "accounts"
    }
    assert again == rescored


def test_discovery_reads_the_config_from_the_environment(sandbox):
    env = {"TAP_RECOTAP_API_KEY": sandbox.api_key, "TAP_RECOTAP_API_URL": sandbox.api_url}

    result = _run("--config", "ENV", "--discover", env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    catalog = json.loads(result.stdout)
    accounts = next(s for s in catalog["streams"] if s["tap_stream_id"] == "accounts")
    assert "ANNUAL_REVENUE_C" in accounts["schema"]["properties"]["customFields"]["properties"]
    assert sandbox.api_key not in result.stdout + result.stderr


def test_connection_test_passes_with_a_good_key_and_explains_a_bad_one(sandbox, tmp_path):
    good_config = {"api_key": sandbox.api_key, "api_url": sandbox.api_url}
    good = _run("--config", _config_file(tmp_path, good_config), "--test")
    assert good.returncode == 0, good.stderr[-2000:]

    bad_key = "not-the-key-91ac"
    bad_config = {"api_key": bad_key, "api_url": sandbox.api_url}
    bad = _run("--config", _config_file(tmp_path, bad_config), "--test")

    assert bad.returncode != 0
    assert "key is wrong" in bad.stderr
    assert "API access is not enabled" in bad.stderr
    assert bad_key not in bad.stdout + bad.stderr


def test_an_http_api_url_is_refused_before_any_request(tmp_path):
    config = _config_file(
        tmp_path, {"api_key": "k-3c1d", "api_url": "http://eapi.recotap.com/api/v1"}
    )

    result = _run("--config", config)

    assert result.returncode == 1
    assert "api_url must use https" in result.stderr
    assert "k-3c1d" not in result.stderr


def test_accounts_read_by_the_tap_go_back_through_target_recotap(sandbox, tmp_path):
    config = _config_file(tmp_path, {"api_key": sandbox.api_key, "api_url": sandbox.api_url})
    tap = _run("--config", config)
    accounts_only = "\n".join(
        line for line in tap.stdout.splitlines() if '"stream":"accounts"' in line.replace(" ", "")
    )

    target = subprocess.run(
        [str(Path(TAP).with_name("target-recotap")), "--config", config],
        input=accounts_only,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert target.returncode == 0, target.stderr[-2000:]
    assert "_sdc_sync_timestamp" not in target.stderr  # metadata column: no warning, no error
    assert sum(sandbox.admin.stats()["batch_sizes"]["POST /api/v1/accounts"]) == 250
