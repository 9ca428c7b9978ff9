"""``recotap-sandbox``: parse flags, serve until SIGINT/SIGTERM, exit 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

from aiohttp import web

from recotap_sandbox.app import create_app
from recotap_sandbox.config import SandboxConfig
from recotap_sandbox.faults import DEFAULTS, FaultEngine

_SHUTDOWN_TIMEOUT_S = 1.0


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags (documented in docs/sandbox.md)."""
    p = argparse.ArgumentParser(prog="recotap-sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (loopback by default)")
    p.add_argument("--port", type=int, default=8787, help="port; 0 picks a free one")
    p.add_argument("--api-key", default="sandbox-key", help="the accepted X-Api-Key")
    p.add_argument(
        "--disabled-key",
        action="append",
        default=[],
        help="a known key whose workspace has API access disabled (repeatable)",
    )
    p.add_argument("--seed-accounts", type=int, default=1000, help="accounts to seed")
    p.add_argument("--seed", type=int, default=1, help="data seed")
    p.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of 500/502/503 answers")
    p.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second per API key, then 429"
    )
    p.add_argument(
        "--rate-limit-burst",
        type=float,
        default=None,
        help="requests a quiet key may send at once (default: one second's worth)",
    )
    p.add_argument(
        "--retry-after",
        type=int,
        default=DEFAULTS["retry_after"],
        help="Retry-After seconds on 429",
    )
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    p.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    p.add_argument("--slow-rate", type=float, default=0.0, help="share of slow answers")
    p.add_argument(
        "--slow-ms", type=int, default=DEFAULTS["slow_ms"], help="delay of a slow answer"
    )
    p.add_argument(
        "--after-write-share",
        type=float,
        default=DEFAULTS["after_write_share"],
        help="share of 5xx/drops injected after the handler ran",
    )
    p.add_argument("--rescore-every", type=float, default=None, help="rescore every S seconds")
    p.add_argument("--rescore-share", type=float, default=0.05, help="share of accounts rescored")
    p.add_argument(
        "--last-sync-exclusive",
        action="store_true",
        help="lastSync keeps updated_at > lastSync (default: >=)",
    )
    p.add_argument(
        "--null-last-cursor",
        action="store_true",
        help="nextCursor is null on the last page (default: set)",
    )
    return p


def _faults(args: argparse.Namespace) -> FaultEngine:
    return FaultEngine(
        latency_ms=args.latency_ms,
        error_rate=args.fault_rate,
        rate_limit_rps=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
        retry_after=args.retry_after,
        seed=args.fault_seed,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_ms=args.slow_ms,
        after_write_share=args.after_write_share,
    )


def _config(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        api_key=args.api_key,
        disabled_keys=tuple(args.disabled_key),
        seed_accounts=args.seed_accounts,
        seed=args.seed,
        rescore_every=args.rescore_every,
        rescore_share=args.rescore_share,
        last_sync_exclusive=args.last_sync_exclusive,
        null_last_cursor=args.null_last_cursor,
    )


async def serve(args: argparse.Namespace) -> None:
    """Bind, announce the URL on stdout, and serve until a stop signal."""
    app = create_app(_config(args), _faults(args))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    # Bind the socket ourselves so --port 0 can report the port it got.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    site = web.SockSite(runner, sock, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
    await site.start()
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(
        f"recotap-sandbox listening on http://{host}:{port}/api/v1 (api key: {args.api_key})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    sys.exit(0)
