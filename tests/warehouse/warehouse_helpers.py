"""The round trip's pieces: `meltano run` pointed at one sandbox and one database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from demo import warehouse
from recotap_sandbox.control import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
API_KEY = "warehouse-e2e-key-7c1f"
PLUGINS = ("tap-postgres", "target-recotap", "tap-recotap", "target-postgres")
PUSH = ("tap-postgres", "target-recotap")
PULL = ("tap-recotap", "target-postgres")


class Pipeline:
    """`meltano run` in the project, every plugin pointed at one sandbox and one database."""

    def __init__(
        self, sandbox: SandboxProcess, server: warehouse.Server, database: str, workdir: Path
    ) -> None:
        self.sandbox = sandbox
        self.server = server
        self.database = database
        self.failed_records = workdir / "failed_records.jsonl"
        self.env = {
            **os.environ,
            **warehouse.plugin_env(server, database),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "TAP_RECOTAP_API_URL": sandbox.api_url,
            "TAP_RECOTAP_API_KEY": API_KEY,
            # No look-back: the second pull must read exactly the accounts changed after the
            # first (the default 5 s would rightly repeat the first run's last seconds).
            "TAP_RECOTAP_LOOKBACK_SECONDS": "0",
            "TARGET_RECOTAP_API_URL": sandbox.api_url,
            "TARGET_RECOTAP_API_KEY": API_KEY,
            "TARGET_RECOTAP_FAILED_RECORDS_PATH": str(self.failed_records),
            # Refused rows are expected here; each run must still deliver the rest and exit 0.
            "TARGET_RECOTAP_MAX_FAILED_RECORDS": "100",
        }

    def meltano(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run meltano; assert success and that the key never shows; return its log."""
        return self._meltano(*args, env=env).stderr

    def state(self, state_id: str) -> dict[str, Any]:
        """`meltano state get`: the Singer state Meltano keeps for `state_id`."""
        state: dict[str, Any] = json.loads(self._meltano("state", "get", state_id).stdout)
        return state

    def _meltano(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [MELTANO, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        log = result.stdout + result.stderr
        assert API_KEY not in log, "the API key leaked into meltano's output"
        assert result.returncode == 0, f"meltano {' '.join(args)}:\n{log[-4000:]}"
        return result

    def push(self, **env: str) -> str:
        """`meltano run tap-postgres target-recotap`: the CRM into Recotap."""
        return self.meltano("run", *PUSH, env=env)

    def pull(self, **env: str) -> str:
        """`meltano run tap-recotap target-postgres`: Recotap into the `recotap` schema."""
        return self.meltano("run", *PULL, env=env)

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of `query` in this pipeline's database, as dicts."""
        with warehouse.connect(self.server, self.database) as db, db.cursor() as cursor:
            cursor.execute(query, params or None)
            if cursor.description is None:
                return []
            names = [d.name for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
