"""Reading a whole-request 400 (§5.1): which items of the batch it is about, if any.

Pure functions over the API's error: the sink decides what to resend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recotap_client.errors import RecotapAPIError


def items_named(error: RecotapAPIError, payload_key: str | None, size: int) -> dict[int, str]:
    """Item positions named by validation errors such as `accounts.3.domain`, with the reasons.

    Empty unless every detail names an item of a batch of `size` items.
    """
    prefix = f"{payload_key}."
    found: dict[int, list[str]] = {}
    for detail in error.details:
        prop = str(detail.get("property", "")) if isinstance(detail, dict) else ""
        match = re.match(rf"{re.escape(prefix)}(\d+)(?:\.|$)", prop)
        if not match or int(match.group(1)) >= size:
            return {}
        texts = ", ".join(str(v) for v in (detail.get("constraints") or {}).values())
        found.setdefault(int(match.group(1)), []).append(f"{prop}: {texts}")
    return {index: "; ".join(texts) for index, texts in found.items()}


def points_into_batch(error: RecotapAPIError, payload_key: str | None, keys: Sequence[str]) -> bool:
    """Whether the refusal is about some item(s) rather than the request as a whole.

    Validation errors name properties: anything outside the item list (e.g. `segmentId`)
    is about the request. Business errors carry only a message (§5.1): it is about an item
    when it names one of the batch's keys (e.g. "Duplicate stageId in pipeline b").
    """
    if error.details:
        props = [str(d.get("property", "")) for d in error.details if isinstance(d, dict)]
        return all(
            payload_key and (p == payload_key or p.startswith(f"{payload_key}.")) for p in props
        )
    text = error.custom_message or ""
    return any(mentions(text, key) for key in keys)


def mentions(text: str, key: str) -> bool:
    """`key` appears in `text` as a whole token (so `p1` does not match `p10`)."""
    return re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w-])", text) is not None
