"""The Meltano path, for real: `meltano install`, `meltano config test`, `meltano run` of a file.

One sandbox and one isolated Meltano system DB for the whole module. The warehouse round trip
(tap-postgres → target-recotap, tap-recotap → target-postgres, twice, every row compared) is in
tests/warehouse/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recotap_sandbox.control import SandboxProcess
from recotap_sandbox.domains import normalise_domain

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
API_KEY = "meltano-e2e-key-51d0"
SEEDED = 300
SAMPLE_FILE = ROOT / "demo" / "sample_accounts.jsonl"
WRITE_ROUTES = ("POST ", "PUT ", "PATCH ")

# The tests share one sandbox and one Meltano project install (two `meltano install`s at once
# would collide in .meltano/): keep them on one xdist worker (`--dist loadgroup`, set in run.py).
pytestmark = [pytest.mark.long, pytest.mark.xdist_group("meltano")]


class Pipeline:
    """Runs meltano in the project with everything pointed at one sandbox and a temp dir."""

    def __init__(self, sandbox: SandboxProcess, workdir: Path) -> None:
        self.sandbox = sandbox
        self.env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "TAP_RECOTAP_API_URL": sandbox.api_url,
            "TAP_RECOTAP_API_KEY": API_KEY,
            "TARGET_RECOTAP_API_URL": sandbox.api_url,
            "TARGET_RECOTAP_API_KEY": API_KEY,
        }

    def meltano(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [MELTANO, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert API_KEY not in result.stdout + result.stderr, "the API key leaked into output"
        if check:
            assert result.returncode == 0, f"meltano {' '.join(args)}:\n{result.stderr[-4000:]}"
        return result

    def write_requests(self) -> int:
        requests_by_route = self.sandbox.admin.stats()["requests"]
        return sum(n for route, n in requests_by_route.items() if route.startswith(WRITE_ROUTES))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    with SandboxProcess(api_key=API_KEY, args=["--seed-accounts", str(SEEDED)]) as sandbox:
        pipeline = Pipeline(sandbox, tmp_path_factory.mktemp("meltano"))
        pipeline.meltano("install", "tap-jsonl", "tap-recotap", "target-recotap")
        yield pipeline


def test_config_test_passes_for_both_plugins_and_writes_nothing(pipeline):
    before = pipeline.write_requests()

    pipeline.meltano("config", "test", "tap-recotap")
    # --log-level debug: Meltano then logs the loader's own output and exit code.
    target = pipeline.meltano(
        "--log-level", "debug", "config", "test", "target-recotap", check=False
    )

    assert "Process return code: 0" in target.stderr  # target-recotap itself succeeded
    assert "connection check only. An authenticated GET /segments succeeded" in target.stderr
    assert pipeline.write_requests() == before
    assert target.returncode == 0 or _is_meltano_terminate_bug(target.stderr), target.stderr[-3000:]


def _is_meltano_terminate_bug(log: str) -> bool:
    """Meltano 4.4.1's loader test, not the target, failed (README: Troubleshooting).

    LoaderTestService.validate awaits the loader's exit, then calls `process.terminate()` in a
    `finally`; asyncio raises ProcessLookupError for a process already reaped, so every loader
    that exits normally "fails" `meltano config test` there. Accepted only in exactly that form.
    """
    return "process.terminate()" in log and "ProcessLookupError" in log


def test_meltano_run_pushes_a_file_of_accounts_under_their_normalised_domains(pipeline):
    samples = [json.loads(line) for line in SAMPLE_FILE.read_text().splitlines()]

    pipeline.meltano("run", "tap-jsonl", "target-recotap")

    accounts = {a["domain"]: a for a in pipeline.sandbox.admin.dump()["accounts"]}
    assert len(accounts) == SEEDED + len(samples)
    for sample in samples:
        stored = accounts[normalise_domain(sample["domain"])]  # the API's rule (§2.8)
        assert (stored["name"], stored["externalId"]) == (sample["name"], sample["externalId"])
