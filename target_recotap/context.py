"""What every sink of one run shares: API client, report, custom-field keys, batches in flight."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from recotap_client.endpoints import RecotapAPI
from target_recotap.failures import RunReport
from target_recotap.in_flight import InFlightBatches

if TYPE_CHECKING:
    from singer_sdk.sinks import Sink


class CustomFieldKeys:
    """The workspace's active custom-field keys, fetched lazily and kept current.

    The custom_fields sink adds the keys it creates, so accounts later in the same run can use
    them; an unknown column triggers at most one refresh (someone may have created the field in
    the app meanwhile).
    """

    def __init__(self, api: RecotapAPI) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._fetched: set[str] | None = None
        self._added: set[str] = set()
        self._checked_misses: set[str] = set()

    def is_active(self, key: str) -> bool:
        """True when `key` is an active custom-field key (refreshing once for a new miss)."""
        with self._lock:
            if key in self._added:
                return True
            if self._fetched is None:
                self._fetched = self._api.active_custom_field_keys()
            if key in self._fetched or key in self._checked_misses:
                return key in self._fetched
            self._fetched = self._api.active_custom_field_keys()
            self._checked_misses.add(key)
            return key in self._fetched

    def add(self, key: str) -> None:
        """Record a key created (or found existing) during this run."""
        with self._lock:
            self._added.add(key)


@dataclass
class RunContext:
    """Settings and shared services for the sinks of one run."""

    api: RecotapAPI
    report: RunReport
    custom_fields: CustomFieldKeys
    in_flight: InFlightBatches
    dry_run: bool
    upsert: bool
    segment_id: str | None
    clear_custom_fields_with_null: bool = False
    # Records received per stream, in a one-item list each sink of the stream shares (a schema
    # change replaces the sink): how logs number a record. Main thread only.
    records_received: dict[str, list[int]] = field(default_factory=dict)
    # The sink that receives each stream's records now (a schema change replaces it).
    sinks: dict[str, Sink] = field(default_factory=dict)


class HasRunContext(Protocol):
    """A target that carries a `RunContext` (TargetRecotap)."""

    run: RunContext
