"""One small sink per Recotap resource: endpoint, cap, item specs and how to read results."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, cast

from singer_sdk.sinks import Sink

from recotap_client import endpoints
from recotap_client.errors import RecotapAPIError
from target_recotap import validation
from target_recotap.base_sink import Outcome, Pending, RecotapSink
from target_recotap.failures import CREATED, EXISTING, FAILED, SKIPPED, UPDATED
from target_recotap.records import domain_match_key, is_blank, merge_accounts
from target_recotap.refusals import mentions

if TYPE_CHECKING:
    from singer_sdk.target_base import Target

    from target_recotap.context import HasRunContext

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

_CONFLICT = 409
_DUPLICATE_RE = re.compile(r"already exists?", re.IGNORECASE)
# Read-only columns of tap-recotap's accounts stream (§4.1): scores, stage, Recotap's ids/dates.
_ACCOUNT_READ_ONLY = frozenset({"updatedAt", "syncTimestamp"})


class AccountsSink(RecotapSink):
    """POST /accounts (§4.2): upsert by domain, optional static segment."""

    endpoint = endpoints.ACCOUNTS
    specs = validation.ACCOUNT
    key_field = "domain"
    source_id_field = "externalId"
    merge_note = " (customFields of both are merged)"
    read_only = _ACCOUNT_READ_ONLY

    @override
    def merge(self, earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
        return merge_accounts(earlier, later)  # §4.2: customFields merge per key

    @override
    def match_key(self, value: Any) -> str:
        return domain_match_key(value)

    @override
    def known_column(self, column: str) -> bool:
        # rtp_* are Recotap's own read-only fields (§4.1); custom-field keys are routed.
        return (
            super().known_column(column)
            or column.startswith("rtp_")
            or self.run.custom_fields.is_active(column)
        )

    @override
    def build_item(self, record: dict[str, Any]) -> dict[str, Any]:
        item = validation.build_item(record, self.specs)
        # Columns besides the API's fields may be custom-field keys (usually there are none).
        others = () if self.specs.keys() >= record.keys() else record.keys() - self.specs.keys()
        mapped = self.mapped_custom_fields(record, set(others)) if others else {}
        if "customFields" not in item and not mapped:
            return item  # the usual case
        # §4.2: a key sent is written, so a null would clear the value stored in Recotap. A NULL
        # (or an empty string) in a CRM column usually means "unknown here", not "erase it".
        keep_nulls = self.run.clear_custom_fields_with_null
        custom = {
            key: value
            for key, value in {**item.get("customFields", {}), **mapped}.items()
            if (keep_nulls or value is not None) and not is_blank(value)
        }
        if custom:
            item["customFields"] = custom
        else:
            item.pop("customFields", None)
        return item

    def mapped_custom_fields(self, record: dict[str, Any], columns: set[str]) -> dict[str, Any]:
        """Top-level columns named like active custom-field keys go into customFields (§4.7)."""
        return {
            column: record[column]
            for column in columns
            if not column.startswith("rtp_") and self.run.custom_fields.is_active(column)
        }

    @override
    def extra_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"upsert": self.run.upsert}
        if self.run.segment_id:
            body["segmentId"] = self.run.segment_id
        return body


class DealsSink(RecotapSink):
    """POST /deals (§4.9): upsert by externalDealId."""

    endpoint = endpoints.DEALS
    specs = validation.DEAL
    key_field = "externalDealId"


class SalesActivitiesSink(RecotapSink):
    """POST /sales-activities (§4.11): create-only, so a duplicate means already delivered."""

    endpoint = endpoints.SALES_ACTIVITIES
    specs = validation.ACTIVITY
    key_field = "externalActivityId"

    @override
    def read_failure(self, pending: Pending, error: str) -> Outcome:
        # §4.11: a repeated externalActivityId comes back failed. On a re-run, or after a retry
        # whose first response was lost, that activity is ours and already stored.
        if _DUPLICATE_RE.search(error):
            return Outcome(pending, EXISTING, error)
        return Outcome(pending, FAILED, error)


class ExternalIdMappingsSink(RecotapSink):
    """PATCH /accounts/external-ids (§4.5): domains in `notFound` are refused records."""

    endpoint = endpoints.EXTERNAL_IDS
    specs = validation.MAPPING
    key_field = "domain"
    source_id_field = "externalId"
    # tap-recotap's unmapped_accounts carries the account name; it is not part of a mapping.
    read_only = frozenset({"name"})

    @override
    def read_results(self, batch: list[Pending], data: Any) -> list[Outcome]:
        """§4.5 answers counts and the domains it did not find, no per-item results.

        A mapping is confirmed only when `notFound` is a list without its domain and `matched`
        counts exactly the other domains sent; any other answer confirms none of them.
        """
        not_found = data.get("notFound") if isinstance(data, dict) else None
        matched = data.get("matched") if isinstance(data, dict) else None
        if not isinstance(not_found, list) or type(matched) is not int:
            reason = f"Recotap's answer confirms nothing (no matched/notFound): {data!r:.200}"
            return [Outcome(p, FAILED, reason) for p in batch]
        missing = {domain_match_key(domain) for domain in not_found}
        found = {p.key for p in batch if domain_match_key(p.key) not in missing}
        if matched != len(found):
            reason = (
                f"Recotap's answer does not add up: matched={matched}, but {len(found)} of "
                f"the {len(batch)} domains sent are not in notFound"
            )
            return [Outcome(p, FAILED, reason) for p in batch]
        return [
            Outcome(p, UPDATED)
            if p.key in found
            else Outcome(p, FAILED, f"no Recotap account has the domain {p.key}")
            for p in batch
        ]


class CustomFieldsSink(RecotapSink):
    """POST /accounts/custom-field (§4.7): one field per call; 409 means it already exists."""

    endpoint = endpoints.CUSTOM_FIELD
    specs = validation.CUSTOM_FIELD
    key_field = "label"
    # An account record read next may use the new key: it must be known before that record is
    # built, so each field is confirmed before reading goes on.
    in_background = False
    # tap-recotap's custom_fields stream also carries these (§4.6); the API derives/sets them.
    read_only = frozenset({"key", "objectType", "status"})

    @override
    def build_item(self, record: dict[str, Any]) -> dict[str, Any]:
        item = super().build_item(record)
        problems = validation.custom_field_problems(item)
        if problems:
            raise validation.InvalidRecordError(problems)
        if item.get("labelType") not in validation.SELECTION_TYPES:
            item.pop("options", None)  # §4.6: other types carry `options: []`; send none
        return item

    @override
    def on_refused_request(self, batch: list[Pending], error: RecotapAPIError) -> None:
        if error.status_code == _CONFLICT:  # §4.7: an active field with this key exists
            self.record_outcomes([Outcome(p, EXISTING) for p in batch])
            return
        super().on_refused_request(batch, error)

    @override
    def record_outcomes(self, outcomes: list[Outcome]) -> None:
        # Accounts later in this run may use the new keys: make them known at once.
        for outcome in outcomes:
            if outcome.outcome in {CREATED, EXISTING}:
                self.run.custom_fields.add(validation.derived_custom_field_key(outcome.pending.key))
        super().record_outcomes(outcomes)

    @override
    def read_results(self, batch: list[Pending], data: Any) -> list[Outcome]:
        """§4.7: data is an array holding the created definition; nothing else confirms it."""
        (pending,) = batch  # one field per call (the endpoint's cap)
        key = validation.derived_custom_field_key(pending.key)
        created = isinstance(data, list) and any(
            isinstance(field, dict)
            and (field.get("key") == key or field.get("label") == pending.key)
            for field in data
        )
        if created:
            return [Outcome(pending, CREATED)]
        reason = f"Recotap's answer does not confirm the field {key} was created: {data!r:.200}"
        return [Outcome(pending, FAILED, reason)]

    @override
    def after_dry_run(self, batch: list[Pending]) -> None:
        for pending in batch:
            self.run.custom_fields.add(validation.derived_custom_field_key(pending.key))


def _defines(field: Any, key: str, label: str) -> bool:
    """Whether `field` (from Recotap's answer) is the custom field `key` / `label`."""
    return isinstance(field, dict) and (field.get("key") == key or field.get("label") == label)


class DealStagesSink(RecotapSink):
    """POST /deal-stages (§4.10): create-only; a 409 names pipelines that already exist."""

    endpoint = endpoints.DEAL_STAGES
    specs = validation.PIPELINE
    key_field = "pipelineId"

    @override
    def on_refused_request(self, batch: list[Pending], error: RecotapAPIError) -> None:
        if error.status_code != _CONFLICT:
            super().on_refused_request(batch, error)
            return
        # §4.10: nothing was created; resend without the pipelines the message names.
        text = error.custom_message or str(error)
        existing = [p for p in batch if mentions(text, p.key)]
        if not existing and len(batch) > 1:
            for pending in batch:  # the message named none of ours: find them one by one
                self.deliver([pending])
            return
        self.record_outcomes([Outcome(p, EXISTING) for p in existing or batch])
        rest = [p for p in batch if p not in existing]
        if existing and rest:
            self.deliver(rest)


class ConnectionCheckSink(Sink):
    """`meltano config test` sends `meltano_test_stream`: check the connection, write nothing."""

    def __init__(
        self, target: Target, stream_name: str, schema: dict[str, Any], key_properties: Any
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.run = cast("HasRunContext", target).run

    @override
    def setup(self) -> None:
        self.run.api.check_connection()
        self.logger.info(
            "%s: connection check only. An authenticated GET /segments succeeded; records "
            "of this stream are never sent to Recotap.",
            self.stream_name,
        )

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        self.run.report.count(self.stream_name, SKIPPED)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Nothing to write."""


SINKS: dict[str, type[Sink]] = {
    "accounts": AccountsSink,
    "deals": DealsSink,
    "sales_activities": SalesActivitiesSink,
    "custom_fields": CustomFieldsSink,
    "external_id_mappings": ExternalIdMappingsSink,
    "deal_stages": DealStagesSink,
}
CONNECTION_CHECK_STREAM = "meltano_test_stream"
