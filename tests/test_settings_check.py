"""Both plugins check their settings at start-up, from the command line, before any request.

Each case runs the plugin as a user does (its console script, a config file) against the
session sandbox, and checks what the user sees: exit status, the message naming the setting,
no traceback, no secret value, and that the sandbox received no request at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ACCOUNT = {"domain": "settings-check.example", "name": "Settings Check"}
TARGET_INPUT = "\n".join(
    json.dumps(m)
    for m in (
        {
            "type": "SCHEMA",
            "stream": "accounts",
            "schema": {"type": "object", "properties": {k: {"type": "string"} for k in ACCOUNT}},
            "key_properties": ["domain"],
        },
        {"type": "RECORD", "stream": "accounts", "record": ACCOUNT},
    )
)


def run_plugin(plugin, config, tmp_path, *args, env=None):
    path = tmp_path / f"{plugin}.json"
    path.write_text(json.dumps(config))
    command = [str(BIN / plugin), "--config", str(path), *args]
    return subprocess.run(
        command,
        input=TARGET_INPUT if plugin == "target-recotap" else "",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def requests_served(sandbox) -> int:
    return sum(sandbox.admin.stats()["requests"].values())


def base(sandbox, **settings):
    return {"api_key": sandbox.api_key, "api_url": sandbox.api_url, **settings}


@pytest.mark.parametrize(
    ("plugin", "typo", "meant"),
    [
        ("tap-recotap", "domians", "domains"),
        ("tap-recotap", "page_sise", "page_size"),
        ("target-recotap", "dryrun", "dry_run"),
        ("target-recotap", "failed_record_path", "failed_records_path"),
    ],
)
def test_an_unknown_setting_is_refused_before_any_request_naming_the_closest(
    sandbox, tmp_path, plugin, typo, meant
):
    before = requests_served(sandbox)

    result = run_plugin(plugin, base(sandbox, **{typo: True}), tmp_path)

    assert result.returncode == 1
    assert f"`{typo}` is not a setting: did you mean `{meant}`?" in result.stderr
    assert "Traceback" not in result.stderr
    assert requests_served(sandbox) == before


def test_a_misspelt_api_key_is_named_but_its_value_never_shown(sandbox, tmp_path):
    secret = "misspelt-secret-4f1e0c"

    result = run_plugin("tap-recotap", {"api_ky": secret, "api_url": sandbox.api_url}, tmp_path)

    assert result.returncode == 1
    assert "`api_ky` is not a setting: did you mean `api_key`?" in result.stderr
    assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("plugin", ["tap-recotap", "target-recotap"])
@pytest.mark.parametrize("bad_key", [987654321, ["k-1a2b3c4d"], {"k": "v-5e6f7a8b"}, ""])
def test_a_secret_setting_of_the_wrong_form_is_refused_without_its_value(
    sandbox, tmp_path, plugin, bad_key
):
    before = requests_served(sandbox)

    result = run_plugin(plugin, base(sandbox, api_key=bad_key), tmp_path)

    assert result.returncode == 1
    assert "`api_key` is invalid" in result.stderr
    assert "value is not shown because it is secret" in result.stderr
    for shown in ("987654321", "k-1a2b3c4d", "v-5e6f7a8b"):
        assert shown not in result.stdout + result.stderr
    assert requests_served(sandbox) == before


@pytest.mark.parametrize("start_date", ["2024-13-45", "yesterday", "2024-02-30T00:00:00Z"])
def test_a_bad_start_date_is_refused_at_start_up_in_a_few_lines(sandbox, tmp_path, start_date):
    before = requests_served(sandbox)

    result = run_plugin("tap-recotap", base(sandbox, start_date=start_date), tmp_path)

    assert result.returncode == 1
    assert "`start_date` must be an ISO 8601 date-time such as 2024-01-31T00:00:00Z" in (
        result.stderr
    )
    assert repr(start_date) in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 6
    assert requests_served(sandbox) == before


@pytest.mark.parametrize(
    "start_date", ["2024-01-31", "2024-01-31T00:00:00Z", "2024-01-31T02:00+02:00"]
)
def test_a_good_start_date_is_accepted_as_a_date_or_a_date_time(sandbox, tmp_path, start_date):
    result = run_plugin("tap-recotap", base(sandbox, start_date=start_date), tmp_path, "--discover")

    assert result.returncode == 0, result.stderr
    assert {s["tap_stream_id"] for s in json.loads(result.stdout)["streams"]} >= {"accounts"}


def test_the_sdks_own_settings_are_known_settings(sandbox, tmp_path):
    sdk_settings = {
        "stream_maps": {"segments": None},
        "stream_map_config": {"x": 1},
        "faker_config": {"seed": 1},
        "flattening_enabled": False,
        "flattening_max_depth": 1,
        "flattening_max_key_length": 255,
        "flattening_separator": "__",
    }

    tap = run_plugin("tap-recotap", base(sandbox, **sdk_settings), tmp_path, "--discover")
    target = run_plugin(
        "target-recotap", base(sandbox, dry_run=True, batch_size_rows=10, **sdk_settings), tmp_path
    )

    assert tap.returncode == 0, tap.stderr
    assert target.returncode == 0, target.stderr
    assert "is not a setting" not in tap.stderr + target.stderr


def test_numbers_may_come_as_strings_as_environment_variables_deliver_them(sandbox, tmp_path):
    """`--config ENV` (the SDK) and Meltano's `string` kind both pass "0.5" on as a string."""
    env = {
        "TAP_RECOTAP_API_KEY": sandbox.api_key,
        "TAP_RECOTAP_API_URL": sandbox.api_url,
        "TAP_RECOTAP_REQUEST_TIMEOUT": "12.5",
        "TAP_RECOTAP_RETRY_BASE_DELAY": "0.5",
        "TAP_RECOTAP_MAX_RETRIES": "3",
    }
    good = subprocess.run(
        [str(BIN / "tap-recotap"), "--config", "ENV", "--discover"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **env},
    )
    bad = run_plugin("tap-recotap", base(sandbox, request_timeout="abc"), tmp_path)

    assert good.returncode == 0, good.stderr
    assert bad.returncode == 1
    assert "'abc' is not of type 'number', 'null' in config['request_timeout']" in bad.stderr


@pytest.mark.parametrize("plugin", ["tap-recotap", "target-recotap"])
def test_version_is_the_distributions(plugin):
    from importlib.metadata import version

    result = subprocess.run(
        [str(BIN / plugin), "--version"], capture_output=True, text=True, check=True, timeout=60
    )

    assert f"{plugin} v{version('recotap-singer')}," in result.stdout
