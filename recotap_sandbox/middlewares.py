"""aiohttp middlewares for /api/v1: faults and counters, error envelopes, API-key auth.

Order (outermost first): faults, errors, auth. Faults wrap everything because they stand for
the network and load balancer in front of the API; auth runs only for routes that exist, as in
NestJS where guards belong to routes (an unknown path is a 404 with or without a key).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from recotap_sandbox.envelope import error_response, route_key
from recotap_sandbox.errors import ApiError, BusinessError
from recotap_sandbox.faults import Decision
from recotap_sandbox.state import STATE

API_PREFIX = "/api/v1"
# asyncio wakes a sleeper up to a millisecond late (epoll timeouts are whole milliseconds).
_TIMER_SLACK_S = 0.0015
log = logging.getLogger("recotap_sandbox")


async def sleep_exactly(seconds: float) -> None:
    """Sleep `seconds`, not up to a millisecond more: the added latency is what was asked for.

    asyncio.sleep overshoots by 0.3 ms on average here, 0.6% of a 50 ms latency, which would
    be charged to the client being measured. So: sleep to just before the deadline, then yield
    to the event loop (other requests keep being served) until it passes.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    if seconds > _TIMER_SLACK_S:
        await asyncio.sleep(seconds - _TIMER_SLACK_S)
    while loop.time() < deadline:
        await asyncio.sleep(0)


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request, then apply the fault the engine picks (never on /_sandbox/)."""
    if not _is_api(request):
        return await handler(request)
    state = request.app[STATE]
    route = route_key(request)
    api_key = request.headers.get("X-Api-Key", "")
    arrived = time.monotonic()
    state.stats.requests[route] += 1
    state.stats.arrived(route, arrived)
    state.stats.key_arrived(api_key, arrived)
    latency = state.faults.settings["latency_ms"]
    if latency:
        await sleep_exactly(latency / 1000)
    decision = state.faults.decide(api_key)
    if decision.kind is not None:
        state.stats.faults[decision.kind] += 1
    if decision.rate_limited:
        state.stats.rate_limited[api_key] += 1
    if decision.kind == "429":
        answer = _counted(request, _rate_limited(request))
        wait = float(state.faults.settings["retry_after"])
        state.stats.key_told_to_wait(api_key, time.monotonic(), wait)
        return answer
    if decision.kind == "slow":
        # Slow, not dead: the request is still processed after the delay (a client that timed
        # out and retries may therefore write twice, as against a real overloaded server).
        await asyncio.sleep(state.faults.settings["slow_ms"] / 1000)
        decision = Decision()
    if decision.kind is None:
        return _counted(request, await handler(request))
    if decision.after_write:
        # The handler runs (and writes); the client never sees its answer.
        await handler(request)
    if decision.kind == "drop":
        return _dropped(request)
    injected = BusinessError(int(decision.kind), "Injected fault (recotap-sandbox)")
    return _counted(request, error_response(request, injected))


def _rate_limited(request: web.Request) -> web.Response:
    """429 with ``Retry-After`` (§6: undocumented by Recotap; the body is our business error)."""
    settings = request.app[STATE].faults.settings
    rps = settings["rate_limit_rps"]
    text = f"Rate limit exceeded ({rps} requests per second)" if rps else "Rate limit exceeded"
    limited = BusinessError(429, text, {"Retry-After": str(int(settings["retry_after"]))})
    return error_response(request, limited)


def _counted(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    stats = request.app[STATE].stats
    stats.statuses[str(response.status)] += 1
    stats.answered(route_key(request), time.monotonic())
    return response


def _dropped(request: web.Request) -> web.StreamResponse:
    """Close the TCP connection without an HTTP response."""
    if request.transport is not None:
        request.transport.close()
    # aiohttp fails to write this to the closed transport and drops it silently.
    return web.Response(status=500)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render ApiErrors, unknown routes and crashes of /api/v1 in the §5.1 envelope."""
    if not _is_api(request):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(request, error)
    except web.HTTPException as exc:
        if exc.status not in (404, 405):
            raise
        # NestJS answers an unknown route or method with 404 "Cannot METHOD /path".
        return error_response(
            request, BusinessError(404, f"Cannot {request.method} {request.path}")
        )
    except Exception:  # a crash must still answer in the envelope, like NestJS's filter
        log.exception("handler failed: %s %s", request.method, request.path)
        return error_response(request, BusinessError(500, "Internal server error"))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """§2.2: ``X-Api-Key`` on every /api/v1 route; the documented 401 texts."""
    if not _is_api(request) or request.match_info.http_exception is not None:
        return await handler(request)
    config = request.app[STATE].config
    key = request.headers.get("X-Api-Key", "")
    if not key:
        raise BusinessError(401, "X-Api-Key header is required")
    if key in config.disabled_keys:
        # §2.2/§5.2: the text for "access not enabled" is undocumented; this one is ours.
        raise BusinessError(401, "API access is not enabled for this workspace")
    if key != config.api_key:
        raise BusinessError(401, "Invalid API key")
    return await handler(request)
