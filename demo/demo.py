"""The main job, end to end on one machine: sandbox → Meltano → Recotap → DuckDB.

1. install the Meltano plugins the pipeline needs;
2. start a recotap-sandbox (seeded accounts, no real key needed);
3. `meltano run tap-jsonl target-recotap`: push demo/sample_accounts.jsonl into Recotap;
4. trigger a rescore, as Recotap's scheduled scoring would;
5. `meltano run tap-recotap target-duckdb`: a full extract into output/warehouse.duckdb;
6. rescore again and re-run: an incremental extract from the bookmark in Meltano's system DB;
7. print the top accounts by score from DuckDB, then stop the sandbox.

Run it with `python3 run.py demo`. Both Recotap plugins are pointed at the sandbox through the
standard Meltano environment variables (TAP_RECOTAP_API_URL, ...), which win over meltano.yml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from recotap_sandbox.control import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).with_name("meltano"))
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
STATE_IDS = ("dev:tap-jsonl-to-target-recotap", "dev:tap-recotap-to-target-duckdb")
PLUGINS = ("tap-jsonl", "tap-recotap", "target-recotap", "target-duckdb")
DEMO_KEY = "sandbox-key"
SEED_ACCOUNTS = 500


def meltano(*args: str, env: dict[str, str] | None = None) -> str:
    """Run one meltano command in the project; return its stdout, stop the demo on failure."""
    print(f"\n$ meltano {' '.join(args)}", flush=True)
    result = subprocess.run(
        [MELTANO, *args], cwd=ROOT, env=env, check=False, text=True, stdout=subprocess.PIPE
    )
    if result.returncode != 0:
        sys.exit(f"demo failed: `meltano {' '.join(args)}` exited {result.returncode}")
    return result.stdout


def pipeline_env(api_url: str) -> dict[str, str]:
    """The environment that points both Recotap plugins at the sandbox."""
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    for plugin in ("TAP_RECOTAP", "TARGET_RECOTAP"):
        env[f"{plugin}_API_URL"] = api_url
        env[f"{plugin}_API_KEY"] = DEMO_KEY
    return env


def warehouse_summary(limit: int = 10) -> tuple[int, list[tuple[str, str, float, str]]]:
    """How many accounts the warehouse holds, and the highest-scored ones."""
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        (count,) = db.execute("select count(*) from recotap.accounts").fetchone() or (0,)
        top = db.execute(
            "select name, domain, rtp_account_score, rtp_journey_stage "
            "from recotap.accounts order by rtp_account_score desc, domain limit ?",
            [limit],
        ).fetchall()
    return int(count), top


def main() -> None:
    """Run the demo."""
    env = pipeline_env("http://127.0.0.1:1/api/v1")
    meltano("install", *PLUGINS, env=env)
    for state_id in STATE_IDS:  # a fresh sandbox must not be read from an old bookmark
        meltano("state", "clear", "--force", state_id, env=env)
    WAREHOUSE.parent.mkdir(exist_ok=True)
    WAREHOUSE.unlink(missing_ok=True)

    with SandboxProcess(api_key=DEMO_KEY, args=["--seed-accounts", str(SEED_ACCOUNTS)]) as sandbox:
        print(f"sandbox running at {sandbox.api_url}", flush=True)
        env = pipeline_env(sandbox.api_url)
        meltano("run", "tap-jsonl", "target-recotap", env=env)
        print(f"rescored {len(sandbox.admin.rescore(share=0.2))} accounts", flush=True)
        meltano("run", "tap-recotap", "target-duckdb", env=env)
        print(f"rescored {len(sandbox.admin.rescore(share=0.05))} accounts", flush=True)
        meltano("run", "tap-recotap", "target-duckdb", env=env)
        print(meltano("state", "get", STATE_IDS[1], env=env).strip())
        stored = len(sandbox.admin.dump()["accounts"])

    loaded, top = warehouse_summary()
    print(f"\n{stored} accounts in Recotap (sandbox), {loaded} in {WAREHOUSE}")
    print("top accounts by score:")
    for name, domain, score, stage in top:
        print(f"  {score:>6.1f}  {stage or '-':<14} {name} ({domain})")
    if loaded != stored:
        sys.exit("demo failed: the warehouse does not hold every account")


if __name__ == "__main__":
    main()
