"""What `TargetRecotap` sets up for a run, checked in-process over loopback HTTP (mutation
testing credits only in-process calls, docs/mutation.md): its settings read from the
environment and checked, `upsert`, how it introduces itself to Recotap, the name its request
log lines carry, and that the streams still buffered at the end of the input are written one
after the other, in the order they started.
"""

from __future__ import annotations

import contextlib
import io
import logging

import pytest
from requests.structures import CaseInsensitiveDict
from singer_sdk.exceptions import ConfigValidationError

from target_recotap.target import TargetRecotap
from tests.hostile.hostile_server import HostileServer, Reply
from tests.target.conftest import as_input

API_KEY = "start-test-key-0123456789"
ACCOUNT = {"domain": "env.start.example", "name": "From the environment"}


def test_settings_are_read_from_the_environment_when_asked(harness, sandbox, monkeypatch):
    # What `target-recotap --config ENV` builds (the SDK passes parse_env_config=True).
    monkeypatch.setenv("TARGET_RECOTAP_API_KEY", sandbox.api_key)
    monkeypatch.setenv("TARGET_RECOTAP_API_URL", sandbox.api_url)
    monkeypatch.setenv("TARGET_RECOTAP_MAX_IN_FLIGHT_BATCHES", "2")

    target = TargetRecotap(config={}, parse_env_config=True)
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(as_input(harness.stream("accounts", [ACCOUNT]))))

    assert target.config["max_in_flight_batches"] == 2
    assert target.run.report.counts("accounts") == {"created": 1}
    assert ACCOUNT["domain"] in {a["domain"] for a in sandbox.admin.dump()["accounts"]}


def test_a_setting_out_of_range_is_refused_naming_it(harness):
    with pytest.raises(ConfigValidationError) as refused:
        TargetRecotap(config=harness.config(max_in_flight_batches=0))

    assert any("max_in_flight_batches" in error for error in refused.value.errors)


def test_with_upsert_off_an_existing_domain_is_refused_and_the_rest_lands(harness, sandbox):
    existing = sandbox.admin.dump()["accounts"][0]["domain"]
    records = [{"domain": existing, "name": "Clash"}, {"domain": "new.start.example", "name": "F"}]

    result = harness.run(harness.stream("accounts", records), upsert=False)

    assert result.exit_code == 1
    (refused,) = result.failed
    assert refused["record"]["domain"] == existing
    assert "upsert" in refused["reason"]
    stored = {a["domain"]: a["name"] for a in sandbox.admin.dump()["accounts"]}
    assert stored["new.start.example"] == "F"
    assert stored[existing] != "Clash"


def test_the_target_names_itself_to_recotap_and_logs_its_requests_under_its_name(caplog):
    page = {
        "data": [{"segmentId": "7", "name": "Tier 1", "status": "active"}],
        "hasNextPage": False,
        "nextCursor": None,
    }
    with HostileServer() as server:
        server.always("GET", "/segments", Reply.envelope(page))
        with caplog.at_level(logging.DEBUG, logger="target-recotap"):
            target = TargetRecotap(
                config={"api_url": server.api_url, "api_key": API_KEY, "segment_id": "7"}
            )
        target.run.api.close()
        (request,) = server.requests_to("GET", "/segments")

    # The User-Agent is how Recotap's logs tell this target's requests from the tap's.
    assert CaseInsensitiveDict(request.headers)["User-Agent"] == "target-recotap"
    # Its request lines go where the target's other lines go (the logger a user configures).
    logged = [r.getMessage() for r in caplog.records if r.name == "target-recotap"]
    assert any(line.startswith("GET /segments -> 200 in ") for line in logged), logged
    assert "Accounts will be added to segment 7 (Tier 1, active)" in logged


def test_streams_left_at_the_end_of_the_input_are_written_in_the_order_they_started(
    harness, sandbox
):
    # The first (full) batch of accounts is slow; the rest of the accounts and one deal naming
    # the last account are still buffered when the input ends, when the SDK drains every sink.
    # Deals name accounts by domain (§4.9): those accounts must be in Recotap first, or the
    # deal is stored without its account. Both wait for the slow batch (one in flight at a
    # time); drained side by side, either could go next.
    accounts = [{"domain": f"a{i}.end.example.org", "name": f"A {i}"} for i in range(150)]
    deals = [
        {
            "externalDealId": "deal-end",
            "name": "Deal at the end",
            "associatedAccounts": [{"domain": accounts[-1]["domain"]}],
        }
    ]

    for _ in range(4):  # a race lost once is enough to fail; won four times is not luck
        sandbox.admin.reset()
        sandbox.admin.set_faults(script=["slow"], slow_ms=300)
        harness.run(
            [*harness.stream("accounts", accounts), *harness.stream("deals", deals)],
            max_in_flight_batches=1,
        )

        (deal,) = sandbox.admin.dump()["deals"]
        assert deal["associatedAccounts"][0]["rtp_aid"], deal
