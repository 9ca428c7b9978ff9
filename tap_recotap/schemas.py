"""JSON schemas of the tap's streams, including the account schema typed from custom fields.

Reference: docs/recotap-api.md §4.1 (accounts), §4.4 (unmapped), §4.6 (custom fields),
§4.8 (segments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# The replication key of `accounts`: the `syncTimestamp` of the page a record was read from
# (server clock). Synthetic and `_sdc_`-prefixed because the API has no such record field; see
# docs/tap.md "Incremental replication".
SYNC_TIMESTAMP = "_sdc_sync_timestamp"

# §4.6 labelType -> JSON schema of a value (every value may be null: §4.1 "values may be null").
_CUSTOM_FIELD_TYPES: dict[str, dict[str, Any]] = {
    "number": {"type": ["number", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "multiSelection": {"type": ["array", "null"], "items": {"type": "string"}},
}
_DEFAULT_CUSTOM_FIELD_TYPE: dict[str, Any] = {"type": ["string", "null"]}


def _nullable_string(name: str, description: str) -> th.Property[Any]:
    return th.Property(name, th.StringType(nullable=True), description=description)


def _nullable_number(name: str, description: str) -> th.Property[Any]:
    return th.Property(name, th.NumberType(nullable=True), description=description)


# §4.1: every documented field. §8 question 16: nullability is undocumented (and the third-party
# note reports empty stages before the first scoring), so all but the key are nullable.
_ACCOUNT_FIELDS = th.PropertiesList(
    th.Property("rtp_aid", th.StringType(nullable=False), required=True,
                description="Recotap's account ID (primary key)."),
    _nullable_string("externalId", "Your own ID for the account, null for unmapped accounts."),
    _nullable_string("name", "Company name."),
    _nullable_string("domain", "Primary domain, normalised by Recotap (§2.8)."),
    _nullable_number("rtp_account_score", "Overall account score."),
    _nullable_string("rtp_journey_stage", "Revenue-journey stage; empty until first scoring."),
    _nullable_number("rtp_advertising_activity_score", "Intent from LinkedIn ad activity."),
    _nullable_number("rtp_website_intent_score", "Intent from website visits."),
    _nullable_number("rtp_g2_intent_score", "Intent from G2 data."),
    _nullable_number("rtp_bombora_intent_score", "Intent from Bombora data."),
    th.Property("rtp_last_account_date", th.DateTimeType(nullable=True),
                description="Time of Recotap's last update of the account."),
    # Null only if the API ever omits syncTimestamp (then the bookmark does not move).
    th.Property(SYNC_TIMESTAMP, th.DateTimeType(nullable=True),
                description="Server time (syncTimestamp) of the page this record was read from."),
).to_dict()  # fmt: skip


def custom_field_schema(label_type: str | None) -> dict[str, Any]:
    """The JSON schema of one custom field's values, by its `labelType` (§4.6)."""
    return dict(_CUSTOM_FIELD_TYPES.get(label_type or "", _DEFAULT_CUSTOM_FIELD_TYPE))


def account_schema(custom_fields: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The `accounts` schema with `customFields` typed from the workspace's definitions.

    Keys not known at discovery (a field created later) still pass through untyped
    (`additionalProperties`), so a stale catalog loses no values; re-discover to type them.
    """
    properties = {
        str(field["key"]): custom_field_schema(field.get("labelType")) for field in custom_fields
    }
    schema: dict[str, Any] = {
        **_ACCOUNT_FIELDS,
        "properties": {
            **_ACCOUNT_FIELDS["properties"],
            "customFields": {
                "type": ["object", "null"],
                "properties": properties,
                "additionalProperties": True,
                "description": "Custom-field values by key (§4.7 keys such as INDUSTRY_C).",
            },
        },
    }
    return schema


SEGMENT_SCHEMA = th.PropertiesList(
    th.Property("segmentId", th.StringType(nullable=False), required=True,
                description="Segment ID, as POST /accounts expects in segmentId."),
    _nullable_string("name", "Segment name."),
    _nullable_string("status", "active or draft (only static segments are listed)."),
).to_dict()  # fmt: skip

CUSTOM_FIELD_SCHEMA = th.PropertiesList(
    th.Property("key", th.StringType(nullable=False), required=True,
                description="Key used inside customFields (e.g. CONTRACT_VALUE_C)."),
    _nullable_string("label", "Display name."),
    _nullable_string("labelType", "singleLineText, multiLineText, singleSelection, "
                                  "multiSelection, number or date."),
    _nullable_string("description", "Description, null when not set."),
    th.Property("options", th.ArrayType(th.StringType), nullable=True,
                description="Choices of the selection types; empty for the others."),
    _nullable_string("objectType", "Always accounts."),
    _nullable_string("status", "Always active (inactive fields are not listed)."),
).to_dict()  # fmt: skip

UNMAPPED_ACCOUNT_SCHEMA = th.PropertiesList(
    th.Property("domain", th.StringType(nullable=False), required=True,
                description="Domain of an account with no externalId (primary key)."),
    _nullable_string("name", "Company name."),
).to_dict()  # fmt: skip
