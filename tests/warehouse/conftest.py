"""The warehouse round trip, for real: `meltano run` against an embedded PostgreSQL and a sandbox.

One PostgreSQL server per test run (per xdist worker; every test here is in the "meltano" xdist
group, so one worker runs them all, as it must: two `meltano install`s at once would collide in
.meltano/). Each test module gets its own database, sandbox and Meltano system DB.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from warehouse_helpers import API_KEY, MELTANO, PLUGINS, ROOT, Pipeline

from demo import warehouse
from recotap_sandbox.control import SandboxProcess

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[warehouse.Server]:
    """The embedded PostgreSQL server, started once and stopped at the end.

    Not under pytest's temp directory: pytest keeps /tmp/pytest-of-<user> private (0700, reset
    by every pytest run), and as root the server runs as its own user, who must get through.
    """
    workdir = Path(tempfile.mkdtemp(prefix="recotap-warehouse-"))
    server = warehouse.start_server(workdir / "pgdata")
    yield server
    server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def meltano_plugins() -> None:
    """`meltano install` of the round trip's plugins, once (a no-op when they are current)."""
    env = dict(os.environ, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    result = subprocess.run(
        [MELTANO, "install", *PLUGINS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.fixture(scope="module")
def make_pipeline(postgres, meltano_plugins, tmp_path_factory):
    """Start a sandbox and create a database; yield a Pipeline over them (module scope)."""
    sandboxes: list[SandboxProcess] = []

    def make(seed_accounts: int) -> Pipeline:
        database = f"warehouse_{os.getpid()}_{next(_databases)}"
        with warehouse.connect(postgres) as db:
            db.execute(f"create database {database}")
        sandbox = SandboxProcess(api_key=API_KEY, args=["--seed-accounts", str(seed_accounts)])
        sandboxes.append(sandbox.start())
        return Pipeline(sandbox, postgres, database, tmp_path_factory.mktemp("pipeline"))

    yield make
    for sandbox in sandboxes:
        sandbox.stop()
