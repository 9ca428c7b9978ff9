"""JSON responses: the §2.4 envelope, the §5.1 error bodies, and plain admin JSON."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from recotap_sandbox.clock import iso_ms, now_ms
from recotap_sandbox.errors import ApiError, BusinessError

_encode = msgspec.json.Encoder().encode


def plain_json(payload: Any, status: int = 200) -> web.Response:
    """A JSON response without the envelope (admin API)."""
    return web.Response(body=_encode(payload), status=status, content_type="application/json")


def ok(request: web.Request, data: Any) -> web.Response:
    """§2.4: ``{statusCode, timestamp, path, data}``."""
    body = {"statusCode": 200, "timestamp": iso_ms(now_ms()), "path": request.path, "data": data}
    return plain_json(body)


def error_response(request: web.Request, error: ApiError) -> web.Response:
    """§5.1: the envelope members, then ``message`` (+ ``customMessage``) and ``data``."""
    body = {"statusCode": error.status, "timestamp": iso_ms(now_ms()), "path": request.path}
    body.update(error.body)
    response = plain_json(body, error.status)
    response.headers.update(error.headers)
    return response


def route_key(request: web.Request) -> str:
    """``METHOD /route/template`` (``PUT /api/v1/accounts/{rtp_aid}``) for the stats."""
    route = request.match_info.route
    template = route.resource.canonical if route.resource is not None else request.path
    return f"{request.method} {template}"


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (empty body = ``{}``); a 400 business error when malformed."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BusinessError(400, f"Request body is not valid JSON: {exc}") from exc
