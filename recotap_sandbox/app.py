"""The aiohttp application factory and the periodic rescoring task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from recotap_sandbox import routes_admin, routes_api, scoring
from recotap_sandbox.config import SandboxConfig
from recotap_sandbox.faults import FaultEngine
from recotap_sandbox.middlewares import auth_middleware, error_middleware, fault_middleware
from recotap_sandbox.seed import build_store
from recotap_sandbox.state import STATE, SandboxState
from recotap_sandbox.stats import Stats

_MAX_BODY = 10 * 1024 * 1024


def create_app(config: SandboxConfig, faults: FaultEngine | None = None) -> web.Application:
    """A ready-to-serve sandbox: seeded data, routes, middlewares, optional rescoring task."""
    app = web.Application(
        middlewares=[fault_middleware, error_middleware, auth_middleware],
        client_max_size=_MAX_BODY,
    )
    store = build_store(config.seed, config.seed_accounts)
    app[STATE] = SandboxState(config, store, faults or FaultEngine(), Stats())
    app.add_routes(routes_api.routes)
    app.add_routes(routes_admin.routes)
    if config.rescore_every:
        app.cleanup_ctx.append(_rescore_periodically)
    return app


async def _rescore_periodically(app: web.Application) -> AsyncIterator[None]:
    """§2.9: scores change on a schedule; every ``rescore_every`` s a share is rescored."""

    async def loop() -> None:
        state = app[STATE]
        while True:
            await asyncio.sleep(float(state.config.rescore_every or 0))
            store = state.store
            scoring.rescore(store, scoring.pick_share(store, state.config.rescore_share))

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
