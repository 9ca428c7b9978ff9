"""The Singer SDK's target tests that apply to a routing target, on Recotap-shaped `.singer` files.

The stock files use generic stream names (`test_users`, ...) that our routing rejects by design,
so every file here is ours (tests/target/data). Chosen SDK tests and why:
- cli prints (version/about), record before schema, missing key property, invalid schema: generic
  Singer behaviour every target must keep.
- schema updates, encoded string data: a stream whose schema changes mid-run; non-ASCII text.
- one file per routed stream (accounts, deals, sales activities, custom fields, external-id
  mappings, deal stages), each validated against what the sandbox stored.
Left out: camelcase/array/no-primary-key/special-chars/user-location files (generic streams the
router refuses), multiple_state_messages (the SDK emits STATE only on a full drain; see
test_target_reliability.py for our STATE guarantees), duplicate_records/pk_updates (covered by
coalescing tests against the API's own keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetCliPrintsTest,
    TargetInvalidSchemaTest,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
)
from singer_sdk.testing.templates import TargetFileTestTemplate

from target_recotap.target import TargetRecotap

DATA = Path(__file__).parent / "data"


class _RecotapFile(TargetFileTestTemplate):
    """A test fed from tests/target/data/<name>.singer; `resource` is the sandbox."""

    @property
    def singer_filepath(self) -> Any:
        return DATA / f"{self.name}.singer"

    def stored(self) -> dict[str, Any]:
        return self.resource.admin.dump()

    def writes(self, route: str) -> list[int]:
        return self.resource.admin.stats()["batch_sizes"].get(route, [])


class RecordBeforeSchema(_RecotapFile, TargetRecordBeforeSchemaTest):
    name = "record_before_schema"


class RecordMissingKeyProperty(_RecotapFile, TargetRecordMissingKeyProperty):
    name = "record_missing_key_property"


class InvalidSchema(_RecotapFile, TargetInvalidSchemaTest):
    name = "invalid_schema"


class SchemaUpdates(_RecotapFile):
    name = "schema_updates"

    def validate(self) -> None:
        account = next(a for a in self.stored()["accounts"] if a["domain"] == "evolve.example.org")
        assert (account["name"], account["shortName"]) == ("Evolve v2", "EVO")
        assert account["tags"] == ["a"]
        state = {"bookmarks": {"accounts": {"replication_key_value": "v2"}}}
        assert self.runner.state_messages == [state]


class EncodedStringData(_RecotapFile):
    name = "encoded_string_data"

    def validate(self) -> None:
        names = {a["domain"]: a["name"] for a in self.stored()["accounts"]}
        assert names["münchen-gmbh.example.org"] == "Müller & Söhne GmbH — 株式会社"
        assert names["zurich.example.org"] == "Zürich AG\tTab\nNewline"


class Accounts(_RecotapFile):
    name = "accounts"

    def validate(self) -> None:
        accounts = {a["domain"]: a for a in self.stored()["accounts"]}
        account = accounts["file3.example.org"]
        assert account["externalId"] == "crm-file-3"
        assert account["customFields"]["ANNUAL_REVENUE_C"] == 1500000.5
        assert account["customFields"]["RENEWAL_DATE_C"] == "2026-04-01"
        assert account["rtp_account_score"] == 0
        assert self.writes("POST /api/v1/accounts") == [5]
        assert len(self.runner.state_messages) == 1


class Deals(_RecotapFile):
    name = "deals"

    def validate(self) -> None:
        deals = {d["externalDealId"]: d for d in self.stored()["deals"]}
        assert set(deals) == {"file-deal-0", "file-deal-1", "file-deal-2"}
        assert deals["file-deal-2"]["amount"] == 20000.25
        assert deals["file-deal-1"]["startDate"] == "2026-01-02T09:00:00+02:00"
        assert "closedDate" not in deals["file-deal-1"]
        assert deals["file-deal-0"]["associatedAccounts"][0]["domain"] == "acme-file.example.org"


class SalesActivities(_RecotapFile):
    name = "sales_activities"

    def validate(self) -> None:
        stored = {a["externalActivityId"] for a in self.stored()["sales_activities"]}
        assert stored == {"file-act-0", "file-act-1"}  # the meeting is skipped, as the API does
        assert self.writes("POST /api/v1/sales-activities") == [3]


class CustomFields(_RecotapFile):
    name = "custom_fields"

    def validate(self) -> None:
        keys = {f["key"] for f in self.stored()["custom_fields"]}
        assert {"SEGMENT_TIER_C", "CHURN_RISK_C"} <= keys
        account = next(a for a in self.stored()["accounts"] if a["domain"] == "tiered.example.org")
        assert account["customFields"]["SEGMENT_TIER_C"] == "Tier 2"
        assert account["customFields"]["CHURN_RISK_C"] == 0.3
        assert self.writes("POST /api/v1/accounts/custom-field") == [1, 1]


class ExternalIdMappings(_RecotapFile):
    name = "external_id_mappings"

    def validate(self) -> None:
        accounts = {a["domain"]: a for a in self.stored()["accounts"]}
        assert [accounts[f"mapme{i}.example.org"]["externalId"] for i in range(3)] == [
            "sf-0",
            "sf-1",
            "sf-2",
        ]


class DealStages(_RecotapFile):
    name = "deal_stages"

    def validate(self) -> None:
        pipelines = {p["pipelineId"]: p for p in self.stored()["pipelines"]}
        assert set(pipelines) == {"file-pipe", "renewals"}
        assert pipelines["renewals"]["stageIds"] == ["s1", "s2"]


recotap_suite = SingerTestSuite(
    kind="target",
    tests=[
        TargetCliPrintsTest,
        RecordBeforeSchema,
        RecordMissingKeyProperty,
        InvalidSchema,
        SchemaUpdates,
        EncodedStringData,
        Accounts,
        Deals,
        SalesActivities,
        CustomFields,
        ExternalIdMappings,
        DealStages,
    ],
)

_SDKTests = get_target_test_class(
    TargetRecotap,
    config={"api_key": "replaced-per-test"},
    custom_suites=[recotap_suite],
    include_target_tests=False,
)


class TestTargetRecotapSDK(_SDKTests):  # type: ignore[misc,valid-type]
    """The SDK's test harness, aimed at the per-test sandbox."""

    @pytest.fixture
    def resource(self, sandbox):
        return sandbox

    @pytest.fixture
    def runner(self, sandbox, tmp_path):
        config = {
            "api_key": sandbox.api_key,
            "api_url": sandbox.api_url,
            "retry_base_delay": 0.01,
            "failed_records_path": str(tmp_path / "failed.jsonl"),
        }
        return TargetTestRunner(TargetRecotap, config=config)
