"""Deterministic workspace data: same seed and size give identical data, rtp_aids included.

Seeding is column-at-a-time (``random.choices(k=n)``, ``randbytes`` + ``translate``) so a
million accounts take seconds. Dates are fixed in 2025, not relative to "now", so two resets
with the same seed produce identical dumps.
"""

from __future__ import annotations

import random
from array import array
from datetime import UTC, datetime
from typing import Any

from recotap_sandbox.accounts import SCORE_FIELDS, AccountTable
from recotap_sandbox.clock import Clock
from recotap_sandbox.store import CustomField, Segment, Store

_SEED_START_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
_SEED_SPAN_MS = 300 * 86_400_000
# fmt: off
_ADJECTIVES = (
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Clear", "Coastal", "Crimson", "Delta", "Eagle",
    "Evergreen", "First", "Golden", "Granite", "Harbor", "Helix", "Horizon", "Iron", "Jade",
    "Keystone", "Lumen", "Maple", "Meridian", "Nimbus", "Northern", "Nova", "Oak", "Orbit",
    "Pacific", "Peak", "Pioneer", "Prairie", "Quantum", "Radiant", "Red", "Ridge", "River",
    "Sapphire", "Silver", "Solar", "Summit", "Swift", "Terra", "Titan", "True", "United",
    "Vector", "Vertex", "Violet", "Vista", "West", "Willow", "Zenith", "Alpine", "Aurora",
    "Beacon", "Bold", "Cobalt",
)
_NOUNS = (
    "Anchor", "Arc", "Bay", "Bridge", "Canyon", "Circuit", "Cloud", "Crest", "Dynamics",
    "Field", "Forge", "Frontier", "Gate", "Grid", "Grove", "Hill", "Hive", "Insight", "Isle",
    "Key", "Lake", "Leaf", "Light", "Line", "Link", "Loop", "Mesa", "Mill", "Mint", "Motion",
    "Node", "Path", "Pine", "Pixel", "Point", "Pulse", "Quarry", "Range", "Rock", "Root",
    "Sail", "Signal", "Sky", "Spark", "Spring", "Stack", "Star", "Stone", "Stream", "Tide",
    "Trail", "Tree", "Valley", "Wave", "Well", "Wind", "Wing", "Works", "Yard", "Zone",
    "Scope", "Shift", "Core",
)
_KINDS = (
    "Systems", "Labs", "Analytics", "Group", "Health", "Logistics", "Software", "Capital",
    "Energy", "Robotics", "Foods", "Media", "Networks", "Bio", "Partners", "Technologies",
)
# fmt: on
_TLDS = ("com",) * 8 + ("io", "co", "net", "ai", "de", "co.uk", "fr", "com.au")
_OWNERS = ("Ana Ruiz", "Ben Okafor", "Chloe Martin", "Dev Patel", "Emma Larsen", "Farid Haddad")
_NOTES = ("Met at SaaStr.\nFollow up in Q3.", "Champion left; re-engage.", "Budget approved.")
_INDUSTRIES = ["Software", "Manufacturing", "Healthcare", "Finance", "Retail", "Education"]
_PRODUCTS = ["Analytics", "Advertising", "Intent", "Journeys"]
_SEGMENTS = (
    ("Tier 1 Targets", "static", "active"),
    ("Expansion Q3", "static", "active"),
    ("Event Follow-up", "static", "draft"),
    ("Churn Risk 2024", "static", "archived"),
    ("High Intent (auto)", "dynamic", "active"),
    ("Website Visitors", "dynamic", "active"),
    ("Lookalikes", "dynamic", "draft"),
    ("Old Campaign", "dynamic", "archived"),
)
# byte -> 0..100, and byte -> stage index 0..5 (about 10% unscored, the rest spread).
_TO_SCORE = bytes(b * 101 // 256 for b in range(256))
_UNSCORED_BELOW = 26
_MAPPED_BELOW = 179  # about 70% of accounts carry an externalId
_TO_STAGE = bytes(
    0 if b < _UNSCORED_BELOW else 1 + (b - _UNSCORED_BELOW) * 5 // (256 - _UNSCORED_BELOW)
    for b in range(256)
)


def build_store(seed: int, count: int) -> Store:
    """A workspace with ``count`` accounts, 8 segments and 7 custom fields, all from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    prefix = f"{0x65000000 + rng.getrandbits(24):08x}{rng.getrandbits(24):06x}"
    table = AccountTable(prefix)
    _seed_accounts(rng, table, count)
    last = table.updated[-1] if count else _SEED_START_MS
    rescore_rng = random.Random(f"rescore-{seed}")  # noqa: S311 (test data, not secrets)
    store = Store(table, Clock(floor_ms=last), rescore_rng)
    for definition, values in _seed_fields(rng, count):
        store.add_field(definition)
        table.custom[definition.key] = values
    for name, kind, status in _SEGMENTS:
        segment = Segment(f"{rng.getrandbits(96):024x}", name, kind, status)
        store.segments[segment.segment_id] = segment
        if kind == "static":
            rows = sorted(rng.sample(range(count), min(count, 25)))
            store.members[segment.segment_id] = dict.fromkeys(rows)
    return store


def _seed_accounts(rng: random.Random, table: AccountTable, count: int) -> None:
    adjectives = rng.choices(_ADJECTIVES, k=count)
    nouns = rng.choices(_NOUNS, k=count)
    kinds = rng.choices(_KINDS, k=count)
    tlds = rng.choices(_TLDS, k=count)
    by_domain = table.by_domain
    for row, (adj, noun, kind, tld) in enumerate(zip(adjectives, nouns, kinds, tlds, strict=True)):
        base = f"{adj}{noun}".lower()
        domain = f"{base}.{tld}"
        if domain in by_domain:
            domain = f"{base}{kind.lower()}.{tld}"
            if domain in by_domain:
                domain = f"{base}{row}.{tld}"
        by_domain[domain] = row
        table.domains.append(domain)
        table.names.append(f"{adj} {noun} {kind}")
    # Some accounts have no externalId, so missing-external-ids has rows (§4.4).
    mapped = rng.randbytes(count)
    table.external_ids = [
        f"crm-{row:07d}" if mapped[row] < _MAPPED_BELOW else None for row in range(count)
    ]
    table.stages = bytearray(rng.randbytes(count).translate(_TO_STAGE))
    for name in SCORE_FIELDS:
        table.scores[name] = bytearray(rng.randbytes(count).translate(_TO_SCORE))
    for row in (r for r, stage in enumerate(table.stages) if stage == 0):
        for column in table.scores.values():
            column[row] = 0  # §2.9 / §8.1: never scored yet: zeros and an empty stage.
    step = max(1, _SEED_SPAN_MS // max(count, 1))
    table.updated = array("q", range(_SEED_START_MS, _SEED_START_MS + count * step, step))
    table.last_dates = array("q", table.updated)


def _seed_fields(rng: random.Random, count: int) -> list[tuple[CustomField, list[Any]]]:
    """One definition of every labelType plus an inactive one, each with seeded values."""
    revenue = [rng.randrange(1, 500) * 100_000 for _ in range(200)]
    renewals = [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 15, 28)]
    interests = [_PRODUCTS[:1], _PRODUCTS[1:3], _PRODUCTS[::2], list(_PRODUCTS)]
    specs: list[tuple[CustomField, list[Any]]] = [
        (CustomField("INDUSTRY_C", "Industry", "singleSelection", None, _INDUSTRIES), _INDUSTRIES),
        (
            CustomField(
                "PRODUCT_INTEREST_C",
                "Product Interest",
                "multiSelection",
                "Products the account showed interest in",
                _PRODUCTS,
            ),
            interests,
        ),
        (CustomField("ANNUAL_REVENUE_C", "Annual Revenue", "number", None, []), revenue),
        (CustomField("RENEWAL_DATE_C", "Renewal Date", "date", None, []), renewals),
        (
            CustomField("ACCOUNT_OWNER_C", "Account Owner", "singleLineText", None, []),
            list(_OWNERS),
        ),
        (CustomField("NOTES_C", "Notes", "multiLineText", None, []), list(_NOTES)),
        (
            CustomField("LEGACY_TIER_C", "Legacy Tier", "singleLineText", None, [], "inactive"),
            ["Gold", "Silver"],
        ),
    ]
    # Roughly half of the accounts have a value for any one field.
    return [
        (definition, rng.choices([*pool, *[None] * len(pool)], k=count))
        for definition, pool in specs
    ]
