"""Local validation: what each Recotap endpoint requires, checked before anything is sent.

The API's validation errors are whole-request 400s (§5.1): one bad e-mail would sink the other 99
items of a batch. So every item is checked here first and a bad one is refused on its own.
A spec also says which fields the API accepts: the API rejects unknown body properties, so only
these are ever sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from target_recotap.records import ascii_domain, is_number, iso8601, json_ready, normalise_domain

# Close to class-validator's isEmail: local part, dotted host, alphabetic TLD.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$"
)
# A company's domain as a DNS hostname, in its ASCII (punycode) form: dot-separated labels of
# letters, digits and inner hyphens, at most 63 characters each, ending in an alphabetic TLD
# (at most 253 characters in all, checked apart: cheaper than a look-ahead).
_HOSTNAME_RE = re.compile(r"(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_MAX_HOSTNAME = 253


@dataclass(frozen=True)
class Spec:
    """One payload field: its kind, whether the API requires it, and kind-specific limits.

    Kinds: string, domain (a normalised string), email, date (ISO-8601), number, bool, strings
    (list of strings), object (free-form map), enum, list (of objects per `fields`), nested (one
    object per `fields`).
    """

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    fields: Mapping[str, Spec] = field(default_factory=dict)
    min_items: int = 0


class InvalidRecordError(ValueError):
    """A record the API would refuse; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def build_item(record: Mapping[str, Any], specs: Mapping[str, Spec]) -> dict[str, Any]:
    """Return the API item for `record` (known fields only, normalised) or raise."""
    problems: list[str] = []
    item = _build_object(record, specs, "", problems)
    if problems:
        raise InvalidRecordError(problems)
    return item


def _build_object(
    source: Mapping[str, Any], specs: Mapping[str, Spec], path: str, problems: list[str]
) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, spec in specs.items():
        value = source.get(name)
        if type(value) is str:
            # An empty or blank string is no value: never sent, and missing when required.
            if not value or value.isspace():
                if spec.required:
                    problems.append(f"{path}{name} is required")
                continue
            if spec.kind == "string":  # the usual case: nothing to check
                item[name] = value
                continue
        elif value is None:
            if spec.required:
                problems.append(f"{path}{name} is required")
            continue
        if spec.kind in _OBJECTS:
            cleaned = _clean_objects(value, spec, f"{path}{name}", problems)
        else:
            cleaned, problem = _SCALARS[spec.kind](value, spec)
            if problem:
                problems.append(f"{path}{name} {problem} (got {value!r})")
                continue
        if cleaned is not None:
            item[name] = cleaned
    return item


_OBJECTS = frozenset({"list", "nested"})  # kinds holding objects checked field by field


def _clean_objects(value: Any, spec: Spec, where: str, problems: list[str]) -> Any:
    if spec.kind == "nested":
        if not isinstance(value, Mapping):
            problems.append(f"{where} must be an object")
            return None
        return _build_object(value, spec.fields, f"{where}.", problems)
    if not isinstance(value, list):
        problems.append(f"{where} must be a list")
        return None
    if len(value) < spec.min_items:
        problems.append(f"{where} needs at least {spec.min_items} item(s)")
    items = []
    for index, entry in enumerate(value):
        if isinstance(entry, Mapping):
            items.append(_build_object(entry, spec.fields, f"{where}[{index}].", problems))
        else:
            problems.append(f"{where}[{index}] must be an object")
    return items


_Checked = tuple[Any, str | None]


def _string(value: Any, _spec: Spec) -> _Checked:
    return (value, None) if isinstance(value, str) else (None, "must be a string")


def _domain(value: Any, _spec: Spec) -> _Checked:
    if not isinstance(value, str):
        return None, "must be a string"
    cleaned = normalise_domain(value)
    hostname = ascii_domain(cleaned)
    if len(hostname) > _MAX_HOSTNAME or _HOSTNAME_RE.fullmatch(hostname) is None:
        # The API would store it as it is (§2.8 only cleans): an account no one can match.
        return None, "is not a domain (expected a hostname such as example.com)"
    return cleaned, None


def _email(value: Any, _spec: Spec) -> _Checked:
    ok = isinstance(value, str) and _EMAIL_RE.match(value.strip()) is not None
    return (value.strip(), None) if ok else (None, "must be an e-mail address")


def _date(value: Any, _spec: Spec) -> _Checked:
    text = iso8601(value)
    return (text, None) if text else (None, "must be an ISO-8601 date or date-time")


def _number(value: Any, _spec: Spec) -> _Checked:
    return (value, None) if is_number(value) else (None, "must be a number")


def _bool(value: Any, _spec: Spec) -> _Checked:
    return (value, None) if isinstance(value, bool) else (None, "must be true or false")


def _strings(value: Any, _spec: Spec) -> _Checked:
    ok = isinstance(value, list) and all(map(isinstance, value, repeat(str)))
    return (list(value), None) if ok else (None, "must be a list of strings")


def _object(value: Any, _spec: Spec) -> _Checked:
    # Free-form values (custom fields) may hold dates from a stream map: send them as ISO text.
    ok = isinstance(value, Mapping)
    return (json_ready(dict(value)), None) if ok else (None, "must be an object")


def _enum(value: Any, spec: Spec) -> _Checked:
    if value in spec.choices:
        return value, None
    return None, f"must be one of {', '.join(spec.choices)}"


_SCALARS = {
    "string": _string,
    "domain": _domain,
    "email": _email,
    "date": _date,
    "number": _number,
    "bool": _bool,
    "strings": _strings,
    "object": _object,
    "enum": _enum,
}

STRING = Spec("string")
REQUIRED_STRING = Spec("string", required=True)

# §4.2 (newer generation): domain and name required; domain is normalised (§2.8).
ACCOUNT: Mapping[str, Spec] = {
    "domain": Spec("domain", required=True),
    "name": REQUIRED_STRING,
    "externalId": STRING,
    "shortName": STRING,
    "linkedinUrl": STRING,
    "tags": Spec("strings"),
    "customFields": Spec("object"),
}

# §4.9: externalDealId and name required; dates ISO-8601; ownerEmail an e-mail when given.
DEAL: Mapping[str, Spec] = {
    "externalDealId": REQUIRED_STRING,
    "name": REQUIRED_STRING,
    "amount": Spec("number"),
    "stageId": STRING,
    "stageLabel": STRING,
    "pipelineId": STRING,
    "pipelineLabel": STRING,
    "startDate": Spec("date"),
    "closedDate": Spec("date"),
    "ownerName": STRING,
    "ownerEmail": Spec("email"),
    "ownerId": STRING,
    "dealCurrencyCode": STRING,
    "associatedAccounts": Spec(
        "list", fields={"externalId": STRING, "domain": Spec("domain"), "name": STRING}
    ),
}

# §4.11: the contact object; `email` is its dedup key.
CONTACT: Mapping[str, Spec] = {
    "email": Spec("email", required=True),
    "externalContactId": STRING,
    "name": STRING,
    "title": STRING,
    "department": STRING,
    "seniority": STRING,
    "phone": STRING,
    "linkedinUrl": STRING,
}

# §4.11 and §5.2: occurredAt ISO-8601, ownerEmail an e-mail, >= 1 contact, direction enum.
ACTIVITY: Mapping[str, Spec] = {
    "externalActivityId": REQUIRED_STRING,
    "activityType": REQUIRED_STRING,
    "occurredAt": Spec("date", required=True),
    "domain": Spec("domain", required=True),
    "ownerEmail": Spec("email", required=True),
    "contacts": Spec("list", required=True, fields=CONTACT, min_items=1),
    "accountName": STRING,
    "subject": STRING,
    "ownerName": STRING,
    "ownerId": STRING,
    "from": Spec("nested", fields={"name": STRING, "email": Spec("email")}),
    "callTitle": STRING,
    "durationMinutes": Spec("number"),
    "outcome": STRING,
    "direction": Spec("enum", choices=("inbound", "outbound")),
    "openCount": Spec("number"),
    "clickCount": Spec("number"),
}

LABEL_TYPES = (
    "singleLineText",
    "multiLineText",
    "singleSelection",
    "multiSelection",
    "number",
    "date",
)
SELECTION_TYPES = frozenset({"singleSelection", "multiSelection"})

# §4.7: label and labelType required; options required (>= 1) for the selection types.
CUSTOM_FIELD: Mapping[str, Spec] = {
    "label": REQUIRED_STRING,
    "labelType": Spec("enum", required=True, choices=LABEL_TYPES),
    "description": STRING,
    "options": Spec("strings"),
}

# §4.5: both members required; the domain is the match key.
MAPPING: Mapping[str, Spec] = {
    "domain": Spec("domain", required=True),
    "externalId": REQUIRED_STRING,
}

# §4.10: each pipeline has an id, a label and >= 1 stage.
PIPELINE: Mapping[str, Spec] = {
    "pipelineId": REQUIRED_STRING,
    "pipelineLabel": REQUIRED_STRING,
    "stages": Spec(
        "list",
        required=True,
        min_items=1,
        fields={"stageId": REQUIRED_STRING, "stageLabel": REQUIRED_STRING},
    ),
}


def custom_field_problems(item: Mapping[str, Any]) -> list[str]:
    """§4.7: the selection types need at least one option."""
    if item.get("labelType") in SELECTION_TYPES and not item.get("options"):
        return [f"options needs at least 1 entry for labelType {item['labelType']}"]
    return []


def derived_custom_field_key(label: str) -> str:
    """§4.7: spaces become `_`, the whole label is upper-cased, `_C` is appended."""
    return f"{label.replace(' ', '_').upper()}_C"
