"""The command line: the listening line, --port 0, clean exit on SIGTERM/SIGINT, start errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
import requests

from recotap_sandbox.control import SandboxProcess, SandboxStartError

LINE = re.compile(
    r"^recotap-sandbox listening on http://127\.0\.0\.1:(\d+)/api/v1 \(api key: k1\)\n$"
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_prints_one_line_serves_and_exits_0_on_signal(signum):
    command = [
        sys.executable,
        "-m",
        "recotap_sandbox",
        "--port",
        "0",
        "--api-key",
        "k1",
        "--seed-accounts",
        "10",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = LINE.match(line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(1)}/api/v1/accounts"
        assert requests.get(url, headers={"X-Api-Key": "k1"}, timeout=5).status_code == 200
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert stdout == ""


def test_sandbox_process_exposes_urls_and_stops_cleanly():
    sandbox = SandboxProcess(api_key="k2", args=["--seed-accounts", "5"]).start()
    process = sandbox.process
    assert sandbox.api_url == f"{sandbox.base_url}/api/v1"
    assert sandbox.admin.reset() == 5
    assert sandbox.stop() == 0
    assert process.returncode == 0


def test_start_failure_reports_stderr():
    with pytest.raises(SandboxStartError, match="invalid int value"):
        SandboxProcess(args=["--seed-accounts", "many"]).start()
