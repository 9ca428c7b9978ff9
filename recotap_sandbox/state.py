"""The one mutable object an app instance serves from."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from recotap_sandbox.config import SandboxConfig
from recotap_sandbox.faults import FaultEngine
from recotap_sandbox.seed import build_store
from recotap_sandbox.stats import Stats
from recotap_sandbox.store import Store


@dataclass
class SandboxState:
    """Config, data, fault settings and counters of one sandbox."""

    config: SandboxConfig
    store: Store
    faults: FaultEngine
    stats: Stats

    def reset(self, seed_accounts: int, seed: int) -> None:
        """Fresh seeded data, cleared stats and fault script; fault settings kept."""
        self.store = build_store(seed, seed_accounts)
        self.stats = Stats()
        self.faults.clear_script()


STATE = web.AppKey("state", SandboxState)
