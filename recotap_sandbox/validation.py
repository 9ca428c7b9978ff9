"""Request-body checks shaped like NestJS class-validator output (§5.1).

Every DTO is checked as a whole before any business logic runs, and every problem is collected,
so one bad item rejects the whole request with one 400 (§5.1: "raised by request-DTO checks
before any database work"). Messages are class-validator's default texts. Our choices
(docs/sandbox.md): nested problems are reported flat, with a dotted ``property`` path
(``accounts.3.domain``) instead of class-validator's ``children`` tree; and, like a global
``ValidationPipe({whitelist: true, forbidNonWhitelisted: true})``, unknown body properties are
rejected (§4.3 documents that for PUT; we apply it to every body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from recotap_sandbox.clock import parse_iso_us
from recotap_sandbox.errors import ValidationError

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,63}$"
)


@dataclass(frozen=True)
class Field:
    """One DTO property: its kind, whether it is required, and kind-specific limits."""

    kind: str  # string | email | iso | number | bool | object | strings | enum | array | nested
    required: bool = False
    choices: tuple[str, ...] = ()
    schema: dict[str, Field] = field(default_factory=dict)
    min_items: int = 0
    max_items: int | None = None


class Problems:
    """Collects class-validator error objects; ``raise_if_any`` turns them into a 400."""

    def __init__(self) -> None:
        self._by_property: dict[str, dict[str, str]] = {}

    def add(self, prop: str, rule: str, message: str) -> None:
        """Record that ``prop`` broke ``rule``."""
        self._by_property.setdefault(prop, {})[rule] = message

    def raise_if_any(self) -> None:
        """Raise the whole-request 400 when anything was recorded."""
        if self._by_property:
            problems = [{"property": p, "constraints": c} for p, c in self._by_property.items()]
            raise ValidationError(problems)


def validate_body(body: Any, schema: dict[str, Field]) -> dict[str, Any]:
    """Check a JSON body against ``schema``; return it as a dict or raise the 400."""
    problems = Problems()
    obj = body if isinstance(body, dict) else {}
    check_object(problems, "", obj, schema)
    problems.raise_if_any()
    return obj


def check_object(
    problems: Problems, prefix: str, obj: dict[str, Any], schema: dict[str, Field]
) -> None:
    """Check every property of ``obj`` (an object already known to be a dict)."""
    for key in obj:
        if key not in schema:
            problems.add(prefix + key, "whitelistValidation", f"property {key} should not exist")
    for name, spec in schema.items():
        _check_field(problems, prefix + name, name, obj.get(name), spec)


def _check_field(problems: Problems, path: str, name: str, value: Any, spec: Field) -> None:
    if value is None:
        if spec.required:
            _missing(problems, path, name, spec)
        return
    if spec.kind in ("string", "email", "iso", "enum") and spec.required and value == "":
        problems.add(path, "isNotEmpty", f"{name} should not be empty")
    if spec.kind == "array":
        _check_array(problems, path, name, value, spec)
        return
    if spec.kind == "nested":
        if isinstance(value, dict):
            check_object(problems, path + ".", value, spec.schema)
        else:
            problems.add(path, "isObject", f"{name} must be an object")
        return
    broken = _SCALAR_CHECKS[spec.kind](value, name, spec)
    if broken is not None:
        problems.add(path, broken[0], broken[1])


def _missing(problems: Problems, path: str, name: str, spec: Field) -> None:
    if spec.kind == "array":
        problems.add(path, "isArray", f"{name} must be an array")
        if spec.min_items:
            problems.add(path, "arrayMinSize", _min_text(name, spec.min_items))
        return
    problems.add(path, "isNotEmpty", f"{name} should not be empty")
    broken = _SCALAR_CHECKS[spec.kind](None, name, spec)
    if broken is not None:
        problems.add(path, broken[0], broken[1])


def _check_array(problems: Problems, path: str, name: str, value: Any, spec: Field) -> None:
    if not isinstance(value, list):
        problems.add(path, "isArray", f"{name} must be an array")
        return
    if len(value) < spec.min_items:
        problems.add(path, "arrayMinSize", _min_text(name, spec.min_items))
    if spec.max_items is not None and len(value) > spec.max_items:
        problems.add(
            path, "arrayMaxSize", f"{name} must contain no more than {spec.max_items} elements"
        )
        return  # class-validator still validates the items; nobody needs 1,000 item errors.
    for index, item in enumerate(value):
        if isinstance(item, dict):
            check_object(problems, f"{path}.{index}.", item, spec.schema)
        else:
            problems.add(f"{path}.{index}", "nestedValidation", f"{name} must be an object")


def _min_text(name: str, count: int) -> str:
    return f"{name} must contain at least {count} elements"


def _string(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    return None if isinstance(value, str) else ("isString", f"{name} must be a string")


def _email(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    ok = isinstance(value, str) and _EMAIL_RE.match(value) is not None
    return None if ok else ("isEmail", f"{name} must be an email")


def _iso(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    ok = isinstance(value, str) and parse_iso_us(value) is not None
    return None if ok else ("isIso8601", f"{name} must be a valid ISO 8601 date string")


def _number(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    text = f"{name} must be a number conforming to the specified constraints"
    return None if ok else ("isNumber", text)


def _bool(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    return None if isinstance(value, bool) else ("isBoolean", f"{name} must be a boolean value")


def _object(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    return None if isinstance(value, dict) else ("isObject", f"{name} must be an object")


def _strings(value: Any, name: str, _spec: Field) -> tuple[str, str] | None:
    if not isinstance(value, list):
        return ("isArray", f"{name} must be an array")
    ok = all(isinstance(item, str) for item in value)
    return None if ok else ("isString", f"each value in {name} must be a string")


def _enum(value: Any, name: str, spec: Field) -> tuple[str, str] | None:
    if value in spec.choices:
        return None
    return ("isIn", f"{name} must be one of the following values: {', '.join(spec.choices)}")


_SCALAR_CHECKS = {
    "string": _string,
    "email": _email,
    "iso": _iso,
    "number": _number,
    "bool": _bool,
    "object": _object,
    "strings": _strings,
    "enum": _enum,
}


def query_int(problems: Problems, raw: str | None, name: str, default: int, maximum: int) -> int:
    """Parse an integer query parameter in ``1..maximum`` (§8 question 1: above it is a 400)."""
    if raw is None:
        return default
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        problems.add(name, "isInt", f"{name} must be an integer number")
        return default
    value = int(raw)
    if value < 1:
        problems.add(name, "min", f"{name} must not be less than 1")
    elif value > maximum:
        problems.add(name, "max", f"{name} must not be greater than {maximum}")
    return value
