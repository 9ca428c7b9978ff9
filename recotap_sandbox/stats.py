"""Request counters for ``GET /_sandbox/stats``."""

from __future__ import annotations

from collections import Counter
from typing import Any

FAULT_KINDS = ("500", "502", "503", "429", "drop", "slow")


class Stats:
    """What the sandbox has seen on /api/v1 since start or the last reset."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.batch_sizes: dict[str, list[int]] = {}
        self.faults: Counter[str] = Counter(dict.fromkeys(FAULT_KINDS, 0))
        # 429s of the rate limiter, per API key (each key has its own bucket); scripted 429s
        # are in `faults` only.
        self.rate_limited: Counter[str] = Counter()
        # Per route: when its first request arrived and its last answer left (monotonic s).
        self.spans: dict[str, list[float]] = {}
        # Per API key: until when its latest 429's Retry-After runs, and the requests that
        # arrived after that 429 had left but before its Retry-After was over.
        self._quiet_until: dict[str, float] = {}
        self.retry_after_ignored: Counter[str] = Counter()

    def key_arrived(self, api_key: str, now: float) -> None:
        """A request with `api_key` arrived at `now`: count it if it ignored a Retry-After."""
        if now < self._quiet_until.get(api_key, 0.0):
            self.retry_after_ignored[api_key] += 1

    def key_told_to_wait(self, api_key: str, now: float, seconds: float) -> None:
        """A 429 asking `api_key` to wait `seconds` left at `now`."""
        self._quiet_until[api_key] = now + seconds

    def arrived(self, route: str, now: float) -> None:
        """A request to `route` arrived at `now`."""
        self.spans.setdefault(route, [now, now])

    def answered(self, route: str, now: float) -> None:
        """An answer to `route` left at `now`."""
        span = self.spans.setdefault(route, [now, now])
        span[1] = max(span[1], now)

    def batch(self, route: str, size: int) -> None:
        """Record the item count of a write whose handler ran."""
        self.batch_sizes.setdefault(route, []).append(size)

    def render(self) -> dict[str, Any]:
        """The admin payload."""
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "batch_sizes": {route: list(sizes) for route, sizes in self.batch_sizes.items()},
            "faults_injected": dict(self.faults),
            "rate_limited_by_key": dict(self.rate_limited),
            "retry_after_ignored_by_key": dict(self.retry_after_ignored),
            "busy_seconds": {route: last - first for route, (first, last) in self.spans.items()},
        }
