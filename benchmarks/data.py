"""The prepared Singer input of the target benchmarks: SCHEMA, N distinct accounts, STATE.

Every account is valid for `POST /accounts` (§4.2: `domain` and `name` set, optional fields
well-typed) and has its own domain, so a push into an empty workspace creates exactly N accounts
in ceil(N / 100) requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STREAM = "accounts"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "domain": {"type": "string"},
        "name": {"type": "string"},
        "externalId": {"type": ["string", "null"]},
        "shortName": {"type": ["string", "null"]},
        "linkedinUrl": {"type": ["string", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    },
    "required": ["domain", "name"],
}
_WORDS = ("Apex", "Cedar", "Harbor", "Nimbus", "Quantum", "Summit", "Vector", "Willow")
_TAGS = (["enterprise"], ["mid-market", "emea"], ["smb"], ["enterprise", "na", "priority"])


def account(index: int) -> dict[str, Any]:
    """The `index`-th benchmark account: deterministic, distinct by domain."""
    word = _WORDS[index % len(_WORDS)]
    return {
        "domain": f"{word.lower()}-bench-{index:07d}.example.com",
        "name": f"{word} Benchmark {index}",
        "externalId": f"bench-{index:07d}",
        "shortName": f"{word[:3].upper()}{index}",
        "linkedinUrl": f"https://www.linkedin.com/company/bench-{index}",
        "tags": _TAGS[index % len(_TAGS)],
    }


def write_singer_file(path: Path, records: int) -> Path:
    """Write SCHEMA + `records` RECORD lines + one STATE to `path`; return the path."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            _line(
                {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["domain"]}
            )
        )
        for index in range(records):
            out.write(_line({"type": "RECORD", "stream": STREAM, "record": account(index)}))
        out.write(_line({"type": "STATE", "value": {"bookmarks": {STREAM: {"pushed": records}}}}))
    return path


def _line(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":")) + "\n"
