"""More than 500 unmapped accounts: the run says so, and mapping then re-running drains them.

GET /accounts/missing-external-ids has no cursor and returns at most 500 (§4.4). The loop a
scheduled job runs (docs/tap.md, "Draining unmapped accounts"): pull, map what was pulled
(here RevOps's matches in the CRM, pushed as external_id_mappings), pull again.
"""

from __future__ import annotations

import re

import pytest

from demo import crm, warehouse

pytestmark = [pytest.mark.long, pytest.mark.xdist_group("meltano")]

SEEDED = 2000  # about 30% of seeded accounts have no externalId: some 600
LIMIT = 500
ONLY_UNMAPPED = {"TAP_RECOTAP__SELECT": '["unmapped_accounts.*"]'}
ONLY_MATCHES = {"TAP_POSTGRES__SELECT": '["crm-account_matches.*"]'}


def _overflow_warnings(log: str) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if re.search(r"\[warning\s*\] tap-recotap\s+unmapped_accounts: 500 read", line)
    ]


def test_unmapped_accounts_beyond_500_warn_with_the_count_and_drain_by_mapping(make_pipeline):
    pipeline = make_pipeline(SEEDED)
    waiting = [
        a["domain"] for a in pipeline.sandbox.admin.dump()["accounts"] if a["externalId"] is None
    ]
    assert len(waiting) > LIMIT  # the set-up this test is about

    first = pipeline.pull(**ONLY_UNMAPPED)
    loaded = [r["domain"] for r in pipeline.sql("select domain from recotap.unmapped_accounts")]
    assert sorted(loaded) == sorted(waiting[:LIMIT])
    assert _overflow_warnings(first), "no WARNING that more unmapped accounts may be waiting"

    with warehouse.connect(pipeline.server, pipeline.database) as db:
        db.execute(crm.SCHEMA)  # the CRM's tables, empty
        db.execute(
            "insert into crm.account_matches select domain, 'CRM-' || md5(domain) "
            "from recotap.unmapped_accounts"
        )
    pipeline.push(**ONLY_MATCHES)
    second = pipeline.pull(**ONLY_UNMAPPED)

    loaded = [r["domain"] for r in pipeline.sql("select domain from recotap.unmapped_accounts")]
    assert sorted(loaded) == sorted(waiting[LIMIT:])
    assert not _overflow_warnings(second)
