"""Normalising record values into what the Recotap API expects (pure functions, no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")
_SPECIAL_RE = re.compile(r"[:/?#@]")  # a scheme, path, query, fragment, user-info or port
# Extended ISO-8601 as clients send it: a date, optionally a time and an offset.
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_FRACTION_RE = re.compile(r"[.,](\d+)")


def normalise_domain(raw: str) -> str:
    """Clean a domain the way Recotap does on account create (§2.8).

    §2.8: scheme, leading `www.` and any path are removed and the result is lower-cased. We also
    drop a query, fragment, port, user-info and trailing dot (§8 question 12), so that two
    spellings of one domain coalesce into one API item. The result may be empty.
    """
    text = raw.strip().lower()
    if _SPECIAL_RE.search(text) is None and not text.endswith("."):
        return text.removeprefix("www.")  # the usual case: nothing else to drop
    text = _SCHEME_RE.sub("", text)
    for stop in "/?#":
        text = text.split(stop, 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return text.removeprefix("www.")


def domain_match_key(value: Any) -> str:
    """A domain as compared with one Recotap echoes: normalised, and in ASCII (punycode) form.

    The API may answer `bücher.example` as `xn--bcher-kva.example`: both give the same key.
    """
    return ascii_domain(normalise_domain(str(value)))


def ascii_domain(normalised: str) -> str:
    """A normalised domain in its ASCII (punycode) form; as it is when that is impossible."""
    if normalised.isascii():
        return normalised
    try:
        return normalised.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN: compare and check it as it is
        return normalised


def iso8601(value: Any) -> str | None:
    """Return `value` as an ISO-8601 string, or None when it is not a date/datetime.

    Records hand dates over as the tap wrote them (strings); a stream map or a BATCH file read
    by the SDK may hand over `date` / `datetime` objects. A naive datetime is taken as UTC
    (Singer's date-time is RFC 3339, so a missing offset almost always means UTC), and always
    sent with an explicit offset so the API never has to guess.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        parsed = _parse_iso(value.strip())
        return None if parsed is None else iso8601(parsed)
    return None


def _parse_iso(text: str) -> datetime | None:
    if not _ISO_RE.match(text):
        return None
    # fromisoformat accepts at most 6 fraction digits, and only with a dot.
    text = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def is_blank(value: Any) -> bool:
    """True for an empty or whitespace-only string: a CRM's way of saying "no value"."""
    return type(value) is str and (value == "" or value.isspace())


def is_number(value: Any) -> bool:
    """True for JSON numbers (int, float, Decimal), never for bool."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def json_ready(value: Any) -> Any:
    """Copy `value` with dates as ISO-8601 strings; numbers (Decimal too) stay numbers."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, date):
        return iso8601(value)
    return value


def merge_accounts(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Coalesce two pushes of one domain: the later wins, `customFields` are merged (§4.2)."""
    merged = {**earlier, **later}
    if "customFields" in earlier or "customFields" in later:
        merged["customFields"] = {
            **earlier.get("customFields", {}),
            **later.get("customFields", {}),
        }
    return merged


def later_wins(_earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Coalesce two items with the same key: the later record replaces the earlier one."""
    return later
