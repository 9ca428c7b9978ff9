"""The Recotap calls the target makes: write endpoints with their per-request caps, and reads.

Nothing here decides about retries, auth or error classification (that is the session's
policy); this module only knows paths, bodies and response shapes.

Reference: docs/recotap-api.md §2.7 (bulk limits), §4 (endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recotap_client.paging import list_pages
from recotap_client.session import RecotapSession, session_from_config

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator, Mapping


@dataclass(frozen=True)
class Endpoint:
    """A write endpoint: method, path, per-request item cap and the body member for items."""

    method: str
    path: str
    cap: int
    payload_key: str | None  # None: the body is the single item itself


# §2.7 bulk limits.
ACCOUNTS = Endpoint("POST", "/accounts", 100, "accounts")
DEALS = Endpoint("POST", "/deals", 100, "deals")
SALES_ACTIVITIES = Endpoint("POST", "/sales-activities", 50, "activities")
CUSTOM_FIELD = Endpoint("POST", "/accounts/custom-field", 1, None)
EXTERNAL_IDS = Endpoint("PATCH", "/accounts/external-ids", 100, "mappings")
DEAL_STAGES = Endpoint("POST", "/deal-stages", 20, "pipelines")

#: Segments per request when listing them (§4.8: the documented default page size).
SEGMENTS_PAGE_SIZE = 100


class RecotapAPI:
    """Typed-ish access to the endpoints the target uses."""

    def __init__(self, session: RecotapSession) -> None:
        self.session = session

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], logger: logging.Logger, *, user_agent: str
    ) -> RecotapAPI:
        """Build the session from the connection settings (api_url, api_key, timeouts, retries)."""
        return cls(session_from_config(config, user_agent=user_agent, logger=logger))

    def write(self, endpoint: Endpoint, items: list[dict[str, Any]], **extra: Any) -> Any:
        """Send one batch to a write endpoint and return the envelope's `data`."""
        if endpoint.payload_key is None:
            (body,) = items
        else:
            body = {endpoint.payload_key: items, **extra}
        # Items must be JSON-ready already (dates as ISO-8601 text).
        return self.session.request(endpoint.method, endpoint.path, json=body)

    def active_custom_field_keys(self) -> set[str]:
        """Keys of the active account custom fields (§4.6: a bare array)."""
        fields = self.session.get("/accounts/custom-fields") or []
        return {str(f["key"]) for f in fields if isinstance(f, dict) and f.get("key")}

    def segments(self) -> Iterator[dict[str, Any]]:
        """Every static active/draft segment (§4.8), paged by the one paging rule (§2.5)."""
        for page in list_pages(self.session, "/segments", limit=SEGMENTS_PAGE_SIZE):
            yield from page.records

    def check_connection(self) -> None:
        """One authenticated read that writes nothing (used for `meltano config test`)."""
        self.session.get("/segments", {"limit": 1})

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()
