"""The /api/v1 handlers (§3): parse and validate, call the store, wrap in the envelope."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from aiohttp import web

from recotap_sandbox import records, schemas
from recotap_sandbox.accounts import AID_RE
from recotap_sandbox.clock import iso_ms, parse_iso_us
from recotap_sandbox.config import DEFAULT_LIMIT, MAX_LIMIT
from recotap_sandbox.domains import normalise_domain
from recotap_sandbox.envelope import ok, read_json, route_key
from recotap_sandbox.errors import ValidationError
from recotap_sandbox.state import STATE, SandboxState
from recotap_sandbox.validation import Field, Problems, query_int, validate_body

routes = web.RouteTableDef()
_MAX_DOMAINS = 100  # §2.7


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE]


async def _body(
    request: web.Request, schema: dict[str, Field], items: str | None
) -> dict[str, Any]:
    """Read, count (stats ``batch_sizes``) and validate a write request's body."""
    body = await read_json(request)
    if items is not None:
        sent = body.get(items) if isinstance(body, dict) else None
        _state(request).stats.batch(route_key(request), len(sent) if isinstance(sent, list) else 0)
    else:
        _state(request).stats.batch(route_key(request), 1)
    return validate_body(body, schema)


def encode_cursor(key: str) -> str:
    """Opaque cursor: urlsafe base64 of the last key of the page."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(problems: Problems, raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = ""
    if not AID_RE.match(key):
        problems.add("cursor", "isValidCursor", "cursor must be a cursor returned by this API")
        return None
    return key


def _next_cursor(
    request: web.Request, last_key: str | None, sent: str | None, *, has_next: bool
) -> str | None:
    """§2.5/§8.1: the real API keeps ``nextCursor`` set on the last page; a flag nulls it."""
    if not has_next and _state(request).config.null_last_cursor:
        return None
    return encode_cursor(last_key) if last_key is not None else sent


def _domains_filter(problems: Problems, raw: str | None) -> list[str] | None:
    """§4.1: a JSON array of at most 100 domains, each normalised (§2.8)."""
    if raw is None:
        return None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add("domains", "isJsonArray", "domains must be a JSON array of strings")
        return None
    if len(value) > _MAX_DOMAINS:
        problems.add(
            "domains", "arrayMaxSize", f"domains must contain no more than {_MAX_DOMAINS} elements"
        )
        return None
    return [normalise_domain(item) for item in value]


def _last_sync_floor(request: web.Request, problems: Problems, raw: str | None) -> int | None:
    """The smallest internal updated-at (ms) that ``lastSync`` lets through (§2.6, §8 q3)."""
    if raw is None:
        return None
    micros = parse_iso_us(raw)
    if micros is None:
        problems.add("lastSync", "isIso8601", "lastSync must be a valid ISO 8601 date string")
        return None
    if _state(request).config.last_sync_exclusive:
        return micros // 1000 + 1  # strictly after
    return -(-micros // 1000)  # inclusive: updated_at >= lastSync


@routes.get("/api/v1/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    """§4.1: keyset pages in rtp_aid order, optional lastSync and domains filters."""
    query = request.query
    problems = Problems()
    limit = query_int(problems, query.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT)
    after = _decode_cursor(problems, query.get("cursor"))
    floor = _last_sync_floor(request, problems, query.get("lastSync"))
    domains = _domains_filter(problems, query.get("domains"))
    problems.raise_if_any()
    store = _state(request).store
    table = store.accounts
    rows = None
    if domains is not None:
        rows = sorted({table.by_domain[d] for d in domains if d in table.by_domain})
    start = table.rows_after(after) if after is not None else 0
    found, has_next = store.page_accounts(limit, start, floor, rows)
    mark = store.clock.read_mark()
    keys = store.active_keys()
    last = table.aid(found[-1]) if found else None
    return ok(
        request,
        {
            "data": msgspec.Raw(table.encoded_rows(found, keys)),
            "nextCursor": _next_cursor(request, last, query.get("cursor"), has_next=has_next),
            "hasNextPage": has_next,
            "syncTimestamp": iso_ms(mark),
        },
    )


@routes.post("/api/v1/accounts")
async def push_accounts(request: web.Request) -> web.Response:
    """§4.2: create (or upsert) 1-100 accounts; per-item results."""
    body = await _body(request, schemas.POST_ACCOUNTS, "accounts")
    store = _state(request).store
    data = store.push_accounts(
        body["accounts"], body.get("segmentId"), upsert=bool(body.get("upsert"))
    )
    return ok(request, data)


@routes.put("/api/v1/accounts/{rtp_aid}")
async def update_account(request: web.Request) -> web.Response:
    """§4.3: per-key merge of one account's custom fields."""
    aid = request.match_info["rtp_aid"]
    if not AID_RE.match(aid.lower()):
        problem = {
            "property": "rtp_aid",
            "constraints": {"isMongoId": "rtp_aid must be a mongodb id"},
        }
        raise ValidationError([problem])
    body = await _body(request, schemas.PUT_ACCOUNT, None)
    _state(request).store.update_account(aid.lower(), body.get("customFields") or {})
    return ok(request, {"message": "Account updated successfully"})


@routes.get("/api/v1/accounts/missing-external-ids")
async def missing_external_ids(request: web.Request) -> web.Response:
    """§4.4: a bare array of ``{name, domain}``; ``limit`` is the only parameter."""
    problems = Problems()
    limit = query_int(problems, request.query.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT)
    problems.raise_if_any()
    return ok(request, _state(request).store.missing_external_ids(limit))


@routes.patch("/api/v1/accounts/external-ids")
async def map_external_ids(request: web.Request) -> web.Response:
    """§4.5: bulk externalId mapping by domain."""
    body = await _body(request, schemas.PATCH_EXTERNAL_IDS, "mappings")
    return ok(request, _state(request).store.map_external_ids(body["mappings"]))


@routes.get("/api/v1/accounts/custom-fields")
async def list_custom_fields(request: web.Request) -> web.Response:
    """§4.6: a bare array of the active definitions."""
    store = _state(request).store
    return ok(request, [f.render() for f in store.fields if f.status == "active"])


@routes.post("/api/v1/accounts/custom-field")
async def create_custom_field(request: web.Request) -> web.Response:
    """§4.7: one definition per call; the response data is an array holding it."""
    body = await _body(request, schemas.POST_CUSTOM_FIELD, None)
    options = body.get("options") or []
    if body["labelType"] in schemas.SELECTION_TYPES and not options:
        problems = Problems()
        problems.add("options", "arrayMinSize", "options must contain at least 1 elements")
        problems.raise_if_any()
    store = _state(request).store
    created = store.create_field(body["label"], body["labelType"], body.get("description"), options)
    return ok(request, [created.render()])


@routes.get("/api/v1/segments")
async def list_segments(request: web.Request) -> web.Response:
    """§4.8: static active/draft segments, keyset pages in segmentId order."""
    problems = Problems()
    limit = query_int(problems, request.query.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT)
    after = _decode_cursor(problems, request.query.get("cursor"))
    problems.raise_if_any()
    listed = [
        s for s in _state(request).store.listed_segments() if after is None or s.segment_id > after
    ]
    page, has_next = listed[:limit], len(listed) > limit
    last = page[-1].segment_id if page else None
    return ok(
        request,
        {
            "data": [{"segmentId": s.segment_id, "name": s.name, "status": s.status} for s in page],
            "nextCursor": _next_cursor(
                request, last, request.query.get("cursor"), has_next=has_next
            ),
            "hasNextPage": has_next,
        },
    )


@routes.post("/api/v1/deals")
async def push_deals(request: web.Request) -> web.Response:
    """§4.9: upsert 1-100 deals by externalDealId."""
    body = await _body(request, schemas.POST_DEALS, "deals")
    return ok(request, records.push_deals(_state(request).store, body["deals"]))


@routes.post("/api/v1/deal-stages")
async def push_deal_stages(request: web.Request) -> web.Response:
    """§4.10: create 1-20 pipelines; 409 for the whole request if any exists."""
    body = await _body(request, schemas.POST_DEAL_STAGES, "pipelines")
    return ok(request, records.push_deal_stages(_state(request).store, body["pipelines"]))


@routes.post("/api/v1/sales-activities")
async def push_activities(request: web.Request) -> web.Response:
    """§4.11: create 1-50 call/e-mail activities."""
    body = await _body(request, schemas.POST_ACTIVITIES, "activities")
    return ok(request, records.push_activities(_state(request).store, body["activities"]))
