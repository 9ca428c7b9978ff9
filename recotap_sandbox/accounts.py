"""Column-oriented account storage: compact enough for a million accounts, fast to page.

Row ``i`` is the i-th account ever created; accounts are never deleted (§3 has no DELETE), so
the row number is also the account's position in ``rtp_aid`` order. ``rtp_aid`` is derived from
the row number (a seed-derived prefix plus a zero-padded hex counter): 24 lowercase hex
characters, ObjectId-like (§8.1), and increasing with creation, so keyset paging by ``rtp_aid``
(our choice for §8 question 2) is a slice of the rows.
"""

from __future__ import annotations

import re
from array import array
from typing import Any

import msgspec

from recotap_sandbox.clock import iso_ms

AID_RE = re.compile(r"^[0-9a-f]{24}$")
# §8.1: labels reported by the third-party note; "" until the first scoring.
STAGES = ("", "Unaware", "Aware", "Consideration", "Opportunity", "Customer")
SCORE_FIELDS = (
    "rtp_account_score",
    "rtp_advertising_activity_score",
    "rtp_website_intent_score",
    "rtp_g2_intent_score",
    "rtp_bombora_intent_score",
)
EXTRA_FIELDS = ("shortName", "linkedinUrl", "tags")
_PREFIX_LEN = 14
_encode = msgspec.json.Encoder().encode


class AccountTable:
    """All accounts, one Python list or typed array per field."""

    def __init__(self, aid_prefix: str) -> None:
        self.aid_prefix = aid_prefix  # 14 hex chars
        self.names: list[str] = []
        self.domains: list[str] = []
        self.external_ids: list[str | None] = []
        # Scores are whole numbers 0-100 (our choice, §8 question 16), one byte each.
        self.scores: dict[str, bytearray] = {name: bytearray() for name in SCORE_FIELDS}
        self.stages = bytearray()  # index into STAGES
        self.last_dates = array("q")  # rtp_last_account_date, epoch ms
        self.updated = array("q")  # internal updated-at, epoch ms; never shown by the API
        self.extras: dict[int, dict[str, Any]] = {}  # sparse shortName / linkedinUrl / tags
        self.custom: dict[str, list[Any]] = {}  # custom-field key -> one value per row
        self.by_domain: dict[str, int] = {}
        # Rows as GET /accounts shows them, encoded, with the `updated` they were encoded at:
        # most pages are re-reads, and every change a client can see moves a row's `updated`
        # (writes, rescoring) or the active custom-field keys (which clear it).
        self._encoded: dict[int, tuple[int, bytes]] = {}
        self._encoded_keys: list[str] = []

    def __len__(self) -> int:
        return len(self.domains)

    def aid(self, row: int) -> str:
        """The ``rtp_aid`` of a row."""
        return f"{self.aid_prefix}{row:010x}"

    def row_of(self, aid: str) -> int | None:
        """The row holding ``aid``, or None when no account has it."""
        if len(aid) != len(self.aid_prefix) + 10 or not aid.startswith(self.aid_prefix):
            return None
        row = int(aid[_PREFIX_LEN:], 16)
        return row if row < len(self) else None

    def rows_after(self, aid: str) -> int:
        """The first row whose ``rtp_aid`` sorts after ``aid`` (keyset cursor position)."""
        if aid.startswith(self.aid_prefix):
            return min(int(aid[_PREFIX_LEN:], 16) + 1, len(self))
        return 0 if aid < self.aid_prefix else len(self)

    def add_custom_column(self, key: str) -> None:
        """Give a new custom field a value slot (null) in every row."""
        self.custom.setdefault(key, [None] * len(self))

    def append(self, domain: str, name: str, external_id: str | None, stamp: int) -> int:
        """Store a new account with zero scores (§2.9) and no stage yet; return its row."""
        row = len(self)
        self.domains.append(domain)
        self.names.append(name)
        self.external_ids.append(external_id)
        for column in self.scores.values():
            column.append(0)
        self.stages.append(0)
        self.last_dates.append(stamp)
        self.updated.append(stamp)
        for values in self.custom.values():
            values.append(None)
        self.by_domain[domain] = row
        return row

    def set_extras(self, row: int, fields: dict[str, Any]) -> None:
        """Replace the sent optional fields of a row (§8 q13: sent replaces, omitted kept)."""
        if fields:
            self.extras.setdefault(row, {}).update(fields)

    def render(self, row: int, active_keys: list[str]) -> dict[str, Any]:
        """The account as ``GET /accounts`` shows it (§4.1), field order as documented."""
        scores = self.scores
        return {
            "externalId": self.external_ids[row],
            "name": self.names[row],
            "domain": self.domains[row],
            "rtp_aid": self.aid(row),
            "rtp_account_score": scores["rtp_account_score"][row],
            "rtp_journey_stage": STAGES[self.stages[row]],
            "rtp_advertising_activity_score": scores["rtp_advertising_activity_score"][row],
            "rtp_website_intent_score": scores["rtp_website_intent_score"][row],
            "rtp_g2_intent_score": scores["rtp_g2_intent_score"][row],
            "rtp_bombora_intent_score": scores["rtp_bombora_intent_score"][row],
            "rtp_last_account_date": iso_ms(self.last_dates[row]),
            "customFields": {key: self.custom[key][row] for key in active_keys},
        }

    def encoded_rows(self, rows: list[int], active_keys: list[str]) -> bytes:
        """The JSON array of ``rows`` as ``render`` shows them (encoded once per row version)."""
        if active_keys != self._encoded_keys:
            self._encoded, self._encoded_keys = {}, list(active_keys)
        cache, updated = self._encoded, self.updated
        parts = []
        for row in rows:
            hit = cache.get(row)
            if hit is None or hit[0] != updated[row]:
                hit = cache[row] = (updated[row], _encode(self.render(row, active_keys)))
            parts.append(hit[1])
        return b"[" + b",".join(parts) + b"]"

    def render_full(self, row: int, active_keys: list[str]) -> dict[str, Any]:
        """The account for the admin dump: the API view plus what the API never shows."""
        record = self.render(row, active_keys)
        extras = self.extras.get(row, {})
        for name in EXTRA_FIELDS:
            record[name] = extras.get(name)
        record["updatedAt"] = iso_ms(self.updated[row])
        return record
