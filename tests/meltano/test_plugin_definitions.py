"""A Meltano user's own project: the plugins added from plugins/*.yml, configured from the
environment, checked before the real work.

One fresh Meltano project (in a temp dir, uv backend) and one sandbox for the whole module. The
plugins are added with `meltano add --from-ref` from the Hub-format files in plugins/, their
`pip_url` pointed at this repository (editable, so the code under test is what runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recotap_sandbox.control import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
API_KEY = "hub-definitions-key-93e1"
SEEDED = 40
DEFINITIONS = {
    "tap-recotap": ROOT / "plugins" / "extractors" / "tap-recotap--recotap.yml",
    "target-recotap": ROOT / "plugins" / "loaders" / "target-recotap--recotap.yml",
}
# `meltano config test`'s own test for loaders is broken in Meltano 4.4.1 (ProcessLookupError),
# so the target's pre-flight is this one Singer line through `meltano invoke` (README).
CONNECTION_CHECK = (
    '{"type": "SCHEMA", "stream": "meltano_test_stream", '
    '"schema": {"type": "object", "properties": {}}, "key_properties": []}\n'
)
WRITE_ROUTES = ("POST ", "PUT ", "PATCH ", "DELETE ")

pytestmark = [pytest.mark.long, pytest.mark.xdist_group("meltano-hub")]


class UserProject:
    """`meltano` in a fresh project, with both plugins pointed at one sandbox by env vars."""

    def __init__(self, sandbox: SandboxProcess, root: Path) -> None:
        self.sandbox = sandbox
        self.root = root
        self.env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_RECOTAP_API_URL": sandbox.api_url,
            "TAP_RECOTAP_API_KEY": API_KEY,
            "TARGET_RECOTAP_API_URL": sandbox.api_url,
            "TARGET_RECOTAP_API_KEY": API_KEY,
        }

    def meltano(
        self, *args: str, env: dict[str, str] | None = None, stdin: str = "", shows_config=False
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [MELTANO, *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if not shows_config:  # `--dump=config` prints the key: that is what it is for
            assert API_KEY not in result.stdout + result.stderr, "the API key leaked into output"
        return result

    def writes(self) -> int:
        by_route = self.sandbox.admin.stats()["requests"]
        return sum(n for route, n in by_route.items() if route.startswith(WRITE_ROUTES))


def settings_of(plugin: str) -> set[str]:
    about = subprocess.run(
        [str(Path(sys.executable).with_name(plugin)), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(about.stdout)["settings"]["properties"])


def _definition_pointing_at_this_repo(plugin: str, folder: Path) -> Path:
    definition = yaml.safe_load(DEFINITIONS[plugin].read_text())
    definition["pip_url"] = f"-e {ROOT}"
    path = folder / f"{plugin}.yml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> UserProject:
    root = tmp_path_factory.mktemp("user-project")
    (root / "meltano.yml").write_text(
        "requires_meltano: '>=4.0'\nproject_id: recotap-user-project\n"
        "default_environment: dev\nsend_anonymous_usage_stats: false\n"
        "venv:\n  backend: uv\nenvironments:\n  - name: dev\n"
    )
    with SandboxProcess(api_key=API_KEY, args=["--seed-accounts", str(SEEDED)]) as sandbox:
        user = UserProject(sandbox, root)
        for plugin in DEFINITIONS:
            ref = _definition_pointing_at_this_repo(plugin, root)
            added = user.meltano("add", "--from-ref", str(ref), plugin)
            assert added.returncode == 0, added.stderr[-3000:]
        yield user


def test_both_definitions_are_added_as_the_right_plugin_types(project):
    added = yaml.safe_load((project.root / "meltano.yml").read_text())["plugins"]
    assert [p["name"] for p in added["extractors"]] == ["tap-recotap"]
    assert [p["name"] for p in added["loaders"]] == ["target-recotap"]
    assert added["extractors"][0]["variant"] == "recotap"


def test_every_setting_of_both_plugins_can_come_from_its_environment_variable(project):
    """Every kind of setting, both plugins, in one `meltano run` (Meltano 4.4.1 once failed
    here on `kind: decimal`): strings, integers, numbers, booleans, arrays, a date, objects."""
    dump = project.sandbox.admin.dump()
    domains = sorted(a["domain"] for a in dump["accounts"])[:3]
    segment = next(
        s["segmentId"]
        for s in dump["segments"]
        if s["type"] == "static" and s["status"] == "active"
    )
    failed = project.root / "failed" / "records.jsonl"
    # Both plugins' api_key and api_url come from the environment already (UserProject.env).
    settings = {
        "TAP_RECOTAP_REQUEST_TIMEOUT": "30.5",  # number
        "TAP_RECOTAP_MAX_RETRIES": "3",  # integer
        "TAP_RECOTAP_RETRY_BASE_DELAY": "0.25",
        "TAP_RECOTAP_START_DATE": "2020-01-01T00:00:00Z",  # date
        "TAP_RECOTAP_PAGE_SIZE": "2",
        "TAP_RECOTAP_DOMAINS": json.dumps(domains),  # array
        "TAP_RECOTAP_LOOKBACK_SECONDS": "0",
        "TAP_RECOTAP_EMIT_ACTIVATE_VERSION_MESSAGES": "false",  # boolean
        # object: only the accounts stream reaches the target (it has no destination for the
        # other three).
        "TAP_RECOTAP_STREAM_MAPS": json.dumps(
            {"segments": None, "custom_fields": None, "unmapped_accounts": None}
        ),
        "TAP_RECOTAP_STREAM_MAP_CONFIG": json.dumps({"unused": 1}),
        "TAP_RECOTAP_FAKER_CONFIG": json.dumps({"seed": 1}),
        "TAP_RECOTAP_FLATTENING_ENABLED": "false",  # boolean
        "TAP_RECOTAP_FLATTENING_MAX_DEPTH": "1",
        "TAP_RECOTAP_FLATTENING_MAX_KEY_LENGTH": "200",
        "TAP_RECOTAP_FLATTENING_SEPARATOR": "__",  # string
        "TARGET_RECOTAP_REQUEST_TIMEOUT": "20.5",
        "TARGET_RECOTAP_MAX_RETRIES": "2",
        "TARGET_RECOTAP_RETRY_BASE_DELAY": "0.5",
        "TARGET_RECOTAP_UPSERT": "true",
        "TARGET_RECOTAP_SEGMENT_ID": str(segment),
        "TARGET_RECOTAP_FAILED_RECORDS_PATH": str(failed),
        "TARGET_RECOTAP_MAX_FAILED_RECORDS": "0",
        "TARGET_RECOTAP_BATCH_SIZE_ROWS": "50",
        "TARGET_RECOTAP_MAX_IN_FLIGHT_BATCHES": "1",
        "TARGET_RECOTAP_ADAPTIVE_CONCURRENCY": "false",  # boolean
        "TARGET_RECOTAP_VALIDATE_RECORDS": "false",
        "TARGET_RECOTAP_DRY_RUN": "true",
        "TARGET_RECOTAP_STREAM_MAPS": json.dumps({"accounts": {"__alias__": "accounts"}}),
        "TARGET_RECOTAP_STREAM_MAP_CONFIG": json.dumps({"unused": 1}),
        "TARGET_RECOTAP_FAKER_CONFIG": json.dumps({"seed": 1}),
        "TARGET_RECOTAP_FLATTENING_ENABLED": "false",
        "TARGET_RECOTAP_FLATTENING_MAX_DEPTH": "1",
        "TARGET_RECOTAP_FLATTENING_MAX_KEY_LENGTH": "200",
        "TARGET_RECOTAP_FLATTENING_SEPARATOR": "__",
        "TARGET_RECOTAP_CLEAR_CUSTOM_FIELDS_WITH_NULL": "false",  # boolean
    }
    for plugin, prefix in (("tap-recotap", "TAP_RECOTAP_"), ("target-recotap", "TARGET_RECOTAP_")):
        every = {f"{prefix}{name.upper()}" for name in settings_of(plugin)}
        assert every - {f"{prefix}API_KEY", f"{prefix}API_URL"} == {
            k for k in settings if k.startswith(prefix)
        }, f"not every setting of {plugin} is tested"
    writes = project.writes()

    result = project.meltano("run", "tap-recotap", "target-recotap", env=settings)

    assert result.returncode == 0, result.stderr[-4000:]
    # `domains` applied: the tap read exactly those three accounts, the dry run counted them.
    assert "Summary accounts: 3 would_send (0 write requests)" in result.stderr
    assert "Dry run: not emitting STATE" in result.stderr  # `dry_run` applied
    assert f"Accounts will be added to segment {segment}" in result.stderr  # `segment_id` too
    assert project.writes() == writes
    for plugin, prefix in (("tap-recotap", "TAP_RECOTAP_"), ("target-recotap", "TARGET_RECOTAP_")):
        dumped = project.meltano("invoke", "--dump=config", plugin, env=settings, shows_config=True)
        config = json.loads(dumped.stdout)
        names = {k.removeprefix(prefix).lower() for k in settings if k.startswith(prefix)}
        assert names <= set(config), f"{plugin} did not receive {names - set(config)}"


def test_the_tap_pre_flight_is_meltano_config_test(project):
    writes = project.writes()

    good = project.meltano("config", "test", "tap-recotap")
    bad = project.meltano("config", "test", "tap-recotap", env={"TAP_RECOTAP_API_KEY": "wrong"})

    assert good.returncode == 0, good.stderr[-3000:]
    assert "Plugin configuration is valid" in good.stdout + good.stderr
    assert bad.returncode != 0
    assert "Recotap rejected the API key (HTTP 401" in bad.stdout + bad.stderr
    assert project.writes() == writes


def test_the_target_pre_flight_is_one_connection_check_line_through_meltano_invoke(project):
    writes = project.writes()

    good = project.meltano("invoke", "target-recotap", stdin=CONNECTION_CHECK)
    bad = project.meltano(
        "invoke", "target-recotap", stdin=CONNECTION_CHECK, env={"TARGET_RECOTAP_API_KEY": "no"}
    )

    assert good.returncode == 0, good.stderr[-3000:]
    assert "An authenticated GET /segments succeeded" in good.stderr
    assert bad.returncode != 0
    assert "Recotap rejected the API key (HTTP 401" in bad.stderr
    assert project.writes() == writes


def test_a_misspelt_setting_accepted_by_meltano_is_refused_by_the_plugin(project):
    project.meltano("config", "set", "target-recotap", "dryrun", "true")
    try:
        result = project.meltano("invoke", "target-recotap", stdin=CONNECTION_CHECK)
    finally:
        project.meltano("config", "unset", "target-recotap", "dryrun")

    assert result.returncode != 0
    assert "`dryrun` is not a setting: did you mean `dry_run`?" in result.stderr
    assert "GET /segments succeeded" not in result.stderr  # refused before any request
