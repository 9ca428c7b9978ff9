"""The in-memory Recotap workspace and its account, custom-field and segment rules (§4.1-§4.8)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from recotap_sandbox.accounts import EXTRA_FIELDS, SCORE_FIELDS, STAGES, AccountTable
from recotap_sandbox.clock import Clock, parse_iso_us
from recotap_sandbox.domains import normalise_domain
from recotap_sandbox.errors import BusinessError
from recotap_sandbox.schemas import SELECTION_TYPES

_TEXT_TYPES = ("singleLineText", "multiLineText")


@dataclass
class CustomField:
    """An account custom-field definition (§4.6)."""

    key: str
    label: str
    label_type: str
    description: str | None
    options: list[str]
    status: str = "active"

    def render(self) -> dict[str, Any]:
        """The definition as ``GET /accounts/custom-fields`` shows it."""
        return {
            "key": self.key,
            "label": self.label,
            "labelType": self.label_type,
            "description": self.description,
            "options": list(self.options),
            "objectType": "accounts",
            "status": self.status,
        }

    def value_error(self, value: Any) -> str | None:
        """Why ``value`` does not fit this field's labelType, or None (our rules, §8 q16)."""
        kind = self.label_type
        if value is None:
            return None
        if kind in _TEXT_TYPES:
            ok, wanted = isinstance(value, str), "a string"
        elif kind == "number":
            ok, wanted = isinstance(value, int | float) and not isinstance(value, bool), "a number"
        elif kind == "date":
            ok = isinstance(value, str) and parse_iso_us(value) is not None
            wanted = "an ISO 8601 date or datetime string"
        elif kind == "singleSelection":
            ok, wanted = value in self.options, f"one of: {', '.join(self.options)}"
        else:
            ok = isinstance(value, list) and all(item in self.options for item in value)
            wanted = f"an array of: {', '.join(self.options)}"
        return None if ok else f"customFields.{self.key} must be {wanted}"


def derive_key(label: str) -> str:
    """§4.7: spaces become ``_``, everything upper-cased, ``_C`` appended; nothing else changes."""
    return label.replace(" ", "_").upper() + "_C"


@dataclass
class Segment:
    """A segment; only static active/draft ones are visible to the API (§4.8)."""

    segment_id: str
    name: str
    type: str  # static | dynamic
    status: str  # active | draft | archived

    @property
    def writable(self) -> bool:
        """Whether ``GET /segments`` lists it and ``POST /accounts`` may add members (§4.2)."""
        return self.type == "static" and self.status in ("active", "draft")


@dataclass
class Store:
    """Everything the sandbox knows; rebuilt from the seed on reset."""

    accounts: AccountTable
    clock: Clock
    rescore_rng: random.Random
    fields: list[CustomField] = field(default_factory=list)
    segments: dict[str, Segment] = field(default_factory=dict)
    members: dict[str, dict[int, None]] = field(default_factory=dict)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- custom fields (§4.6, §4.7) ---------------------------------------------------------
    def active_fields(self) -> dict[str, CustomField]:
        """Active definitions by key."""
        return {f.key: f for f in self.fields if f.status == "active"}

    def active_keys(self) -> list[str]:
        """Keys of the active definitions, in creation order."""
        return [f.key for f in self.fields if f.status == "active"]

    def add_field(self, definition: CustomField) -> None:
        """Store a definition and give it a value column."""
        self.fields.append(definition)
        self.accounts.add_custom_column(definition.key)

    def create_field(
        self, label: str, label_type: str, description: str | None, options: list[str]
    ) -> CustomField:
        """§4.7: derive the key; 409 when an active field has it. An inactive one is no clash."""
        key = derive_key(label)
        if key in self.active_fields():
            raise BusinessError(409, f"Custom field with key {key} already exists")
        kept = options if label_type in SELECTION_TYPES else []
        definition = CustomField(key, label, label_type, description, list(kept))
        self.add_field(definition)
        return definition

    def custom_error(self, values: dict[str, Any]) -> str | None:
        """Why a ``customFields`` object cannot be written, or None."""
        active = self.active_fields()
        unknown = [key for key in values if key not in active]
        if unknown:
            return f"Unknown custom field key(s): {', '.join(unknown)}"
        for key, value in values.items():
            problem = active[key].value_error(value)
            if problem:
                return problem
        return None

    def write_custom(self, row: int, values: dict[str, Any]) -> None:
        """Per-key merge (§4.2 upsert, §4.3): sent keys are written, the others kept."""
        for key, value in values.items():
            self.accounts.custom[key][row] = list(value) if isinstance(value, list) else value

    # -- segments (§4.8) ---------------------------------------------------------------------
    def writable_segment(self, segment_id: str) -> Segment:
        """§4.2: the segment must exist, be static and active or draft, else a whole-request 400."""
        segment = self.segments.get(segment_id)
        if segment is None:
            raise BusinessError(400, f"Segment {segment_id} not found")
        if segment.type != "static":
            raise BusinessError(400, f"Segment {segment_id} is not a static segment")
        if not segment.writable:
            raise BusinessError(
                400,
                f"Segment {segment_id} is {segment.status}; only active or draft segments "
                "can accept members",
            )
        return segment

    def listed_segments(self) -> list[Segment]:
        """Segments ``GET /segments`` shows, in ``segmentId`` order."""
        return sorted((s for s in self.segments.values() if s.writable), key=lambda s: s.segment_id)

    # -- accounts (§4.1-§4.5) ----------------------------------------------------------------
    def push_accounts(
        self, items: list[dict[str, Any]], segment_id: str | None, *, upsert: bool
    ) -> dict[str, Any]:
        """``POST /accounts`` after validation: per-item results and summary (§4.2)."""
        # §4.2: the segment is checked before anything is written.
        segment = self.writable_segment(segment_id) if segment_id is not None else None
        stamp: int | None = None
        results: list[dict[str, Any]] = []
        for item in items:
            domain = normalise_domain(item["domain"])
            error = self.custom_error(item.get("customFields") or {})
            if not domain:
                error = f"domain {item['domain']!r} is not a valid domain"
            row = self.accounts.by_domain.get(domain)
            aid: str | None = None
            if error is None and row is not None and not upsert:
                # §4.2 example: a duplicate keeps the existing rtp_aid, a bad item has null.
                aid = self.accounts.aid(row)
                error = (
                    f"Account with domain {domain} already exists; set upsert: true to update it"
                )
            if error is not None:
                results.append(
                    {"rtp_aid": aid, "domain": domain, "status": "failed", "error": error}
                )
                continue
            stamp = stamp or self.clock.write_stamp()
            status = "created" if row is None else "updated"
            row = self._write_account(row, domain, item, stamp)
            if segment is not None:
                # §4.2: no duplicate membership.
                self.members.setdefault(segment.segment_id, {})[row] = None
            results.append({"rtp_aid": self.accounts.aid(row), "domain": domain, "status": status})
        return {"results": results, "summary": summarise(results, ("created", "updated", "failed"))}

    def _write_account(self, row: int | None, domain: str, item: dict[str, Any], stamp: int) -> int:
        table = self.accounts
        external_id = item.get("externalId")
        if row is None:
            row = table.append(domain, item["name"], external_id, stamp)
        else:
            # §8 q13 (our choice): sent fields replace, omitted ones are kept; domain is identity.
            table.names[row] = item["name"]
            if external_id is not None:
                table.external_ids[row] = external_id
            table.updated[row] = stamp
        extras = {k: item[k] for k in EXTRA_FIELDS if item.get(k) is not None}
        table.set_extras(row, extras)
        self.write_custom(row, item.get("customFields") or {})
        return row

    def insert_direct(self, item: dict[str, Any]) -> str:
        """Admin set-up: store one new account as given, scores and stage included."""
        domain = normalise_domain(str(item["domain"]))
        if not domain or domain in self.accounts.by_domain:
            raise ValueError(f"domain {domain!r} is empty or already exists")
        error = self.custom_error(item.get("customFields") or {})
        if error is not None:
            raise ValueError(error)
        row = self._write_account(None, domain, item, self.clock.write_stamp())
        for name in SCORE_FIELDS:
            if name in item:
                if not 0 <= int(item[name]) <= 100:  # noqa: PLR2004 (the score range)
                    raise ValueError(f"{name} must be 0-100")
                self.accounts.scores[name][row] = int(item[name])
        if "rtp_journey_stage" in item:
            self.accounts.stages[row] = STAGES.index(item["rtp_journey_stage"])
        return self.accounts.aid(row)

    def update_account(self, aid: str, values: dict[str, Any]) -> None:
        """``PUT /accounts/{rtp_aid}`` (§4.3): merge custom fields, move the dates forward."""
        row = self.accounts.row_of(aid)
        if row is None:
            raise BusinessError(404, f"Account with rtp_aid {aid} not found")
        error = self.custom_error(values)
        if error is not None:
            raise BusinessError(400, error)
        self.write_custom(row, values)
        stamp = self.clock.write_stamp()
        self.accounts.updated[row] = stamp
        # §8.1: the third-party note reports PUT moving rtp_last_account_date forward.
        self.accounts.last_dates[row] = stamp

    def page_accounts(
        self, limit: int, start: int, min_updated: int | None, rows: list[int] | None
    ) -> tuple[list[int], bool]:
        """Up to ``limit`` rows from ``start`` on (optionally only ``rows``), updated at or after
        ``min_updated``; plus whether more match."""
        if rows is None and min_updated is None:
            end = min(start + limit, len(self.accounts))
            return list(range(start, end)), end < len(self.accounts)
        candidates = (
            range(start, len(self.accounts)) if rows is None else (r for r in rows if r >= start)
        )
        updated = self.accounts.updated
        found: list[int] = []
        for row in candidates:
            if min_updated is None or updated[row] >= min_updated:
                if len(found) == limit:
                    return found, True
                found.append(row)
        return found, False

    def missing_external_ids(self, limit: int) -> list[dict[str, str]]:
        """§4.4: the first ``limit`` accounts (rtp_aid order) without an externalId."""
        table = self.accounts
        found: list[dict[str, str]] = []
        for row, external_id in enumerate(table.external_ids):
            if external_id is None:
                found.append({"name": table.names[row], "domain": table.domains[row]})
                if len(found) == limit:
                    break
        return found

    def map_external_ids(self, mappings: list[dict[str, Any]]) -> dict[str, Any]:
        """§4.5: write externalIds by (normalised) domain; the last mapping of a domain wins."""
        wanted: dict[str, str] = {}
        for mapping in mappings:
            wanted[normalise_domain(mapping["domain"])] = mapping["externalId"]
        table = self.accounts
        not_found = [domain for domain in wanted if domain not in table.by_domain]
        changed = [
            table.by_domain[d]
            for d, ext in wanted.items()
            if d in table.by_domain and table.external_ids[table.by_domain[d]] != ext
        ]
        if changed:
            stamp = self.clock.write_stamp()
            for row in changed:
                table.external_ids[row] = wanted[table.domains[row]]
                table.updated[row] = stamp
        matched = len(wanted) - len(not_found)
        return {"matched": matched, "updated": len(changed), "notFound": not_found}


def summarise(results: list[dict[str, Any]], statuses: tuple[str, ...]) -> dict[str, int]:
    """The ``summary`` object of the push endpoints: total plus a count per status."""
    summary = {"total": len(results)}
    for status in statuses:
        summary[status] = sum(1 for r in results if r["status"] == status)
    return summary
