"""Start-up settings of one sandbox process (the CLI flags, minus the fault knobs)."""

from __future__ import annotations

from dataclasses import dataclass

# §8 question 1 (our choice): the largest `limit` a list endpoint accepts; above it is a 400.
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox authenticates, seeds and answers the open questions it makes switchable."""

    api_key: str = "sandbox-key"
    disabled_keys: tuple[str, ...] = ()
    seed_accounts: int = 1000
    seed: int = 1
    rescore_every: float | None = None
    rescore_share: float = 0.05
    last_sync_exclusive: bool = False
    null_last_cursor: bool = False
