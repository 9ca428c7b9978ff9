"""The API key stays secret, http is refused off loopback, TLS is verified (issue 6, item 4).

Every test of the suite is also guarded by the hook in tests/conftest.py: a test whose captured
stdout, stderr or log shows the sandbox key fails. The subprocess outputs below are not
captured by pytest, so they are checked explicitly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import TAP, TARGET, account, figures, secrets_absent, singer_lines

from recotap_client.session import RecotapSession
from recotap_sandbox.control import SandboxProcess
from tap_recotap.tap import TapRecotap
from target_recotap.target import TargetRecotap

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = {"tap": [TAP, "--discover"], "target": [TARGET]}


def run(command: list[str], config: dict[str, Any], tmp_path: Path, stdin: str = "") -> Any:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "TAP_RECOTAP_LOGLEVEL": "DEBUG", "TARGET_RECOTAP_LOGLEVEL": "DEBUG"}
    return subprocess.run(
        [*command, "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("plugin", list(PLUGINS))
@pytest.mark.parametrize(
    "api_url",
    ["http://eapi.recotap.com/api/v1", "http://10.1.2.3:8080/api/v1", "ftp://127.0.0.1/api/v1"],
)
def test_an_api_url_that_is_not_https_is_refused_off_loopback(
    sandbox: SandboxProcess, tmp_path: Path, plugin: str, api_url: str
) -> None:
    config = {"api_key": sandbox.api_key, "api_url": api_url}

    result = run(
        PLUGINS[plugin],
        config,
        tmp_path,
        stdin="".join(singer_lines("accounts", "domain", [account(1)])),
    )

    assert result.returncode != 0
    assert "api_url must" in result.stderr
    assert api_url in result.stderr
    assert sandbox.admin.stats()["requests"] == {}  # refused before any request
    secrets_absent(sandbox.api_key, result.stdout, result.stderr)


@pytest.mark.parametrize("plugin", list(PLUGINS))
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_is_accepted_for_a_loopback_host(
    sandbox: SandboxProcess, tmp_path: Path, plugin: str, host: str
) -> None:
    api_url = sandbox.api_url.replace("127.0.0.1", host)
    config = {"api_key": sandbox.api_key, "api_url": api_url}

    result = run(
        PLUGINS[plugin],
        config,
        tmp_path,
        stdin="".join(singer_lines("accounts", "domain", [account(1)])),
    )

    assert result.returncode == 0, result.stderr[-2000:]
    secrets_absent(sandbox.api_key, result.stdout, result.stderr)


@pytest.mark.parametrize("plugin", list(PLUGINS))
def test_the_key_stays_out_of_debug_logs_retry_exhaustion_and_auth_errors(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any, plugin: str
) -> None:
    stdin = "".join(singer_lines("accounts", "domain", [account(i) for i in range(5)]))
    base = {"api_url": sandbox.api_url, "retry_base_delay": 0.01, "max_retries": 3}
    ok = run(PLUGINS[plugin], {**base, "api_key": sandbox.api_key}, tmp_path, stdin)
    sandbox.admin.set_faults(script=["503", "drop", "503"])
    exhausted = run(PLUGINS[plugin], {**base, "api_key": sandbox.api_key}, tmp_path, stdin)
    wrong_key = "wrong-key-d41d8cd9"
    refused = run(PLUGINS[plugin], {**base, "api_key": wrong_key}, tmp_path, stdin)

    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "DEBUG" in ok.stderr  # the most talkative level really was on
    assert exhausted.returncode != 0
    assert "still failing after 3 attempts" in exhausted.stderr
    assert refused.returncode != 0
    assert "Recotap rejected the API key (HTTP 401" in refused.stderr
    outputs = [r.stdout + r.stderr for r in (ok, exhausted, refused)]
    secrets_absent(sandbox.api_key, *outputs)
    secrets_absent(wrong_key, *outputs)
    figures(
        record_property,
        f"secrets {plugin}: key absent from {sum(len(o) for o in outputs)} chars of DEBUG "
        "output over a good run, retry exhaustion and a 401",
    )


# The SDK sets its log level from <PLUGIN>_LOGLEVEL (singer_sdk.plugin_base._plugin_log_level).
DEBUG_LINE = {
    name: re.compile(rf"\| DEBUG +\| {name}\b") for name in ("tap-recotap", "target-recotap")
}


def target_input(sandbox: SandboxProcess) -> str:
    """Good accounts, one refused locally, one the API fails (unknown custom field), a STATE."""
    records = [
        *(account(i, "secret") for i in range(5)),
        {"domain": "", "name": "refused: no domain"},
        account(9, "secret") | {"customFields": {"NO_SUCH_FIELD_C": "x"}},
    ]
    state = {"type": "STATE", "value": {"bookmarks": {"crm": {"offset": 7}}}}
    return "".join(singer_lines("accounts", "domain", records)) + json.dumps(state) + "\n"


@pytest.mark.parametrize("plugin", ["tap", "target"])
def test_the_api_key_never_appears_in_output(
    sandbox: SandboxProcess, tmp_path: Path, record_property: Any, plugin: str
) -> None:
    name = f"{plugin}-recotap"
    failed_path = tmp_path / "failed.jsonl"
    config = {"api_key": sandbox.api_key, "api_url": sandbox.api_url, "retry_base_delay": 0.01}
    # A retried 429 and 503 put the retry and rate-limit paths in the logs too.
    sandbox.admin.set_faults(retry_after=0, script=[429, "503:before"])
    if plugin == "tap":
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps({"bookmarks": {}}))
        runs = [
            run([TAP, "--discover"], config, tmp_path),
            run([TAP, "--state", str(state_path)], config, tmp_path),
        ]
        assert '"type":"STATE"' in runs[1].stdout.replace(" ", "")
    else:
        config |= {"failed_records_path": str(failed_path), "max_failed_records": 10}
        runs = [run([TARGET], config, tmp_path, stdin=target_input(sandbox))]
        assert runs[0].stdout.strip() == json.dumps({"bookmarks": {"crm": {"offset": 7}}})
        assert len(failed_path.read_text().splitlines()) == 2  # the refused and the failed

    for result in runs:
        assert result.returncode == 0, result.stderr[-2000:]
        assert DEBUG_LINE[name].search(result.stderr), "DEBUG was not on"
    assert sandbox.admin.stats()["faults_injected"]["429"] == 1
    outputs = [text for r in runs for text in (r.stdout, r.stderr)]
    files = [failed_path.read_text()] if failed_path.exists() else []
    secrets_absent(sandbox.api_key, *outputs, *files)
    figures(
        record_property,
        f"secrets {plugin}: key (plain, base64, hex) absent from {sum(map(len, outputs))} "
        f"chars of DEBUG output and {len(files)} failed-records file(s), through a 429 and a 503",
    )


def test_tls_verification_is_on_in_every_session(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback sandbox (never the real API); `verify` does not depend on the scheme.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)  # else verify is that bundle
    config = {"api_key": sandbox.api_key, "api_url": sandbox.api_url}
    tap = TapRecotap(config=config)
    target = TargetRecotap(config=config)

    assert RecotapSession(sandbox.api_url, sandbox.api_key).http.verify is True
    assert target.run.api.session.http.verify is True
    assert tap.session.http.verify is True
    assert all(stream.session is tap.session for stream in tap.streams.values())


def test_a_ca_bundle_from_the_environment_is_used_by_every_session(
    sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Sessions read the environment once (not per request); a private CA still works.
    bundle = tmp_path / "ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    config = {"api_key": sandbox.api_key, "api_url": sandbox.api_url}

    tap = TapRecotap(config=config)
    assert tap.session._ca_bundle == str(bundle)
    assert all(stream.session is tap.session for stream in tap.streams.values())
    assert TargetRecotap(config=config).run.api.session._ca_bundle == str(bundle)


def test_no_code_path_turns_tls_verification_off() -> None:
    pattern = re.compile(
        # `.verify = ` only from read_environment_once (the CA bundle, or True; never False).
        r"verify\s*=\s*False|\.verify\s*=(?!\s*read_environment_once\()|CURL_CA_BUNDLE"
        r"|PYTHONHTTPSVERIFY|_create_unverified_context|CERT_NONE"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("tap_recotap", "target_recotap", "recotap_client", "recotap_plugin_common")
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
