"""The /_sandbox/ admin API: plain JSON, no key, never faulted (contract in docs/sandbox.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from recotap_sandbox import scoring
from recotap_sandbox.envelope import plain_json
from recotap_sandbox.state import STATE, SandboxState

routes = web.RouteTableDef()


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE]


async def _object(request: web.Request) -> dict[str, Any]:
    """The JSON object body (empty body = ``{}``); anything else is a 400."""
    raw = await request.read()
    try:
        body = msgspec.json.decode(raw) if raw.strip() else {}
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return body


def _bad(message: str) -> web.Response:
    return plain_json({"error": message}, status=400)


@routes.post("/_sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    """Replace all data with freshly seeded data; clear stats and the fault script."""
    state = _state(request)
    body = await _object(request)
    count = body.get("seed_accounts")
    seed = body.get("seed")
    count = state.config.seed_accounts if count is None else count
    seed = state.config.seed if seed is None else seed
    if not isinstance(count, int) or count < 0 or not isinstance(seed, int):
        return _bad("seed_accounts must be an integer >= 0 and seed an integer")
    state.reset(count, seed)
    return plain_json({"accounts": len(state.store.accounts)})


@routes.get("/_sandbox/stats")
async def stats(request: web.Request) -> web.Response:
    """Request, status, batch-size and fault counters."""
    return plain_json(_state(request).stats.render())


@routes.get("/_sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    """The current fault settings."""
    return plain_json(_state(request).faults.render())


@routes.put("/_sandbox/faults")
async def put_faults(request: web.Request) -> web.Response:
    """Change some fault settings (omitted keys keep their value)."""
    body = await _object(request)
    try:
        return plain_json(_state(request).faults.update(**body))
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))


@routes.delete("/_sandbox/faults")
async def delete_faults(request: web.Request) -> web.Response:
    """Every fault back to none/defaults."""
    return plain_json(_state(request).faults.clear())


@routes.post("/_sandbox/rescore")
async def rescore(request: web.Request) -> web.Response:
    """Rescore a seeded-random share of accounts, or exactly the given rtp_aids."""
    state = _state(request)
    body = await _object(request)
    store = state.store
    aids = body.get("rtp_aids")
    if aids is not None:
        rows = [store.accounts.row_of(str(aid)) for aid in aids]
        if any(row is None for row in rows):
            return _bad("unknown rtp_aid in rtp_aids")
        picked = sorted({row for row in rows if row is not None})
    else:
        share = body.get("share")
        picked = scoring.pick_share(
            store, state.config.rescore_share if share is None else float(share)
        )
    return plain_json({"rescored": scoring.rescore(store, picked)})


_SEGMENT_STATUSES = ("active", "draft", "archived")


@routes.patch("/_sandbox/segments/{segment_id}")
async def set_segment_status(request: web.Request) -> web.Response:
    """Change a segment's status, as a user archiving or restoring it in Recotap's UI."""
    segment = _state(request).store.segments.get(request.match_info["segment_id"])
    status = (await _object(request)).get("status")
    if segment is None:
        return _bad("unknown segmentId")
    if status not in _SEGMENT_STATUSES:
        return _bad(f"status must be one of {', '.join(_SEGMENT_STATUSES)}")
    segment.status = status
    return plain_json({"segmentId": segment.segment_id, "status": segment.status})


@routes.get("/_sandbox/dump")
async def dump(request: web.Request) -> web.Response:
    """Everything stored, including what the API never shows."""
    store = _state(request).store
    table = store.accounts
    keys = store.active_keys()
    return plain_json(
        {
            "accounts": [table.render_full(row, keys) for row in range(len(table))],
            "segments": [
                {"segmentId": s.segment_id, "name": s.name, "type": s.type, "status": s.status}
                for s in store.segments.values()
            ],
            "segment_members": {
                segment_id: [table.aid(row) for row in members]
                for segment_id, members in store.members.items()
            },
            "custom_fields": [f.render() for f in store.fields],
            "deals": list(store.deals.values()),
            "pipelines": list(store.pipelines.values()),
            "sales_activities": list(store.activities.values()),
        }
    )


@routes.post("/_sandbox/accounts")
async def insert_accounts(request: web.Request) -> web.Response:
    """Insert accounts directly (test set-up), bypassing validation and faults.

    Each item: ``domain``, ``name`` and optionally ``externalId``, ``customFields`` and any
    ``rtp_`` score (0-100) or ``rtp_journey_stage``. An existing domain is an error.
    """
    store = _state(request).store
    body = await _object(request)
    try:
        aids = [store.insert_direct(item) for item in body.get("accounts", [])]
    except (KeyError, ValueError, TypeError) as exc:
        return _bad(f"cannot insert: {exc}")
    return plain_json({"rtp_aids": aids})
