"""Fault injection for /api/v1: latency, 5xx, 429 rate limiting, dropped connections, slowness.

Every random decision comes from one RNG seeded by ``seed``, so a run is reproducible when the
requests arrive in the same order. A scripted fault list, when non-empty, overrides the random
faults for the next requests, one entry per request.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

ERROR_STATUSES = (500, 502, 503)
DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_statuses": list(ERROR_STATUSES),
    "rate_limit_rps": None,
    "rate_limit_burst": None,
    "retry_after": 1,
    "drop_rate": 0.0,
    "slow_rate": 0.0,
    "slow_ms": 5000,
    "after_write_share": 0.5,
    "seed": 0,
    "script": [],
}
_RATES = ("error_rate", "drop_rate", "slow_rate", "after_write_share")
_SCRIPT_KINDS = ("500", "502", "503", "429", "drop", "slow", "ok")


@dataclass(frozen=True)
class Decision:
    """The fault for one request: ``kind`` None means none; ``after_write`` for 5xx and drop."""

    kind: str | None = None
    after_write: bool = False
    rate_limited: bool = False  # a 429 of the rate limiter (not a scripted one)


def _script_entry(entry: Any) -> str:
    """Validate one script entry: 500/502/503/429, "drop", "slow", "ok", optionally ":before" or
    ":after" (5xx and drop only); return its canonical text."""
    text = str(entry) if isinstance(entry, int) and not isinstance(entry, bool) else entry
    if not isinstance(text, str):
        raise TypeError(f"script entry {entry!r} is not a fault")
    kind, _, when = text.partition(":")
    if kind not in _SCRIPT_KINDS or when not in ("", "before", "after"):
        raise ValueError(f"script entry {entry!r} is not a fault")
    if when and kind not in ("500", "502", "503", "drop"):
        raise ValueError(f"script entry {entry!r}: only 5xx and drop have :before/:after")
    return text


def checked(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate a partial settings update; raise ValueError naming the bad key."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    for key in _RATES:
        if key in settings and not 0.0 <= float(settings[key]) <= 1.0:
            raise ValueError(f"{key} must be between 0 and 1")
    for key in ("latency_ms", "slow_ms", "retry_after", "seed"):
        if key in settings and int(settings[key]) < 0:
            raise ValueError(f"{key} must be >= 0")
    if settings.get("rate_limit_rps") is not None and float(settings["rate_limit_rps"]) <= 0:
        raise ValueError("rate_limit_rps must be > 0 or null")
    if settings.get("rate_limit_burst") is not None and float(settings["rate_limit_burst"]) < 1:
        raise ValueError("rate_limit_burst must be >= 1 or null")
    statuses = settings.get("error_statuses", list(ERROR_STATUSES))
    if not statuses or any(status not in ERROR_STATUSES for status in statuses):
        raise ValueError("error_statuses must be a non-empty list of 500, 502, 503")
    result = dict(settings)
    if "script" in settings:
        result["script"] = [_script_entry(entry) for entry in settings["script"]]
    return result


class TokenBucket:
    """One API key's allowance: `rate` tokens a second, at most `burst` saved up; one a request.

    A stand-in for a limit Recotap does not document (§6): the usual gateway limiter, which
    lets a client that was quiet send `burst` requests at once, then `rate` a second.
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst  # a new key (or a new limit) starts with a full bucket
        self.refilled = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class FaultEngine:
    """Current fault settings, their RNG, the token buckets (one per API key), the script."""

    def __init__(self, **settings: Any) -> None:
        self.settings: dict[str, Any] = dict(DEFAULTS)
        self._rng = random.Random(0)  # noqa: S311 (fault dice, not secrets)
        self._buckets: dict[str, TokenBucket] = {}
        self.update(**settings)

    def update(self, **settings: Any) -> dict[str, Any]:
        """Change the given settings (others kept); a ``seed`` re-seeds the RNG."""
        self.settings.update(checked(settings))
        if "seed" in settings:
            seed = int(self.settings["seed"])
            self._rng = random.Random(seed)  # noqa: S311 (fault dice, not secrets)
        if "rate_limit_rps" in settings or "rate_limit_burst" in settings:
            self._buckets.clear()  # the new limit applies from the next request, buckets full
        return self.render()

    def clear(self) -> dict[str, Any]:
        """Every fault back to none/defaults, RNG re-seeded from the default seed."""
        self.settings = dict(DEFAULTS)
        self._rng = random.Random(0)  # noqa: S311 (fault dice, not secrets)
        self._buckets.clear()
        return self.render()

    def clear_script(self) -> None:
        """Forget the remaining scripted faults (admin reset)."""
        self.settings["script"] = []

    def render(self) -> dict[str, Any]:
        """The full current settings (the admin payload)."""
        return {
            **self.settings,
            "error_statuses": list(self.settings["error_statuses"]),
            "script": list(self.settings["script"]),
        }

    def decide(self, api_key: str = "") -> Decision:
        """The fault for the next /api/v1 request, sent with `api_key` (whose bucket it uses)."""
        script: list[str] = self.settings["script"]
        if script:
            return self._scripted(script.pop(0))
        s = self.settings
        # A fixed number of draws per request keeps the sequence reproducible.
        u_error, u_status, u_drop, u_slow, u_after = (self._rng.random() for _ in range(5))
        after = u_after < s["after_write_share"]
        if not self._take_token(api_key):
            return Decision("429", rate_limited=True)
        if u_error < s["error_rate"]:
            statuses = s["error_statuses"]
            return Decision(str(statuses[int(u_status * len(statuses))]), after)
        if u_drop < s["drop_rate"]:
            return Decision("drop", after)
        if u_slow < s["slow_rate"]:
            return Decision("slow")
        return Decision()

    def _scripted(self, entry: str) -> Decision:
        kind, _, when = entry.partition(":")
        if kind == "ok":
            return Decision()
        after = when == "after" if when else self._rng.random() < self.settings["after_write_share"]
        return Decision(kind, after)

    def _take_token(self, api_key: str) -> bool:
        """The key's token bucket: ``rate_limit_rps`` a second, ``rate_limit_burst`` saved up
        (default: one second's worth, at least 1)."""
        rps = self.settings["rate_limit_rps"]
        if rps is None:
            return True
        now = time.monotonic()
        bucket = self._buckets.get(api_key)
        if bucket is None:
            burst = self.settings["rate_limit_burst"]
            burst = max(1.0, float(rps)) if burst is None else float(burst)
            bucket = self._buckets[api_key] = TokenBucket(float(rps), burst, now)
        return bucket.take(now)
