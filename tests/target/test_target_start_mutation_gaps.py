"""What `TargetRecotap` sets up for a run, checked in-process over loopback HTTP (mutation
testing credits only in-process calls, docs/mutation.md): how it introduces itself to Recotap,
the name its request log lines carry, and that the streams still buffered at the end of the
input are written one after the other, in the order they started.
"""

from __future__ import annotations

import logging

from requests.structures import CaseInsensitiveDict

from target_recotap.target import TargetRecotap
from tests.hostile.hostile_server import HostileServer, Reply

API_KEY = "start-test-key-0123456789"


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
