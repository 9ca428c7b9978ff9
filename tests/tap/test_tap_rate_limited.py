"""The tap against a rate-limited Recotap: it completes, reads every record once, and waits out
every `Retry-After` it is given (§6), as the sandbox saw it."""

from __future__ import annotations

import json
import subprocess

from tests.tap.tap_helpers import TAP_CLI, config_for, discover_accounts_catalog, parse_messages


def test_the_tap_honours_retry_after_and_reads_everything_once(sandbox, tmp_path):
    accounts = {a["rtp_aid"] for a in sandbox.admin.dump()["accounts"]}
    # Five pages of 50 at 4 requests a second with no burst to speak of: the tap meets 429s.
    sandbox.admin.set_faults(rate_limit_rps=4, rate_limit_burst=1, retry_after=1)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sandbox, max_retries=10)))
    catalog = discover_accounts_catalog(config, tmp_path)
    stats_before = sandbox.admin.stats()

    result = subprocess.run(
        [str(TAP_CLI), "--config", str(config), "--catalog", str(catalog)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    records = [
        m["record"]["rtp_aid"]
        for m in parse_messages(result.stdout)
        if m["type"] == "RECORD" and m["stream"] == "accounts"
    ]
    assert sorted(records) == sorted(accounts)  # every account, each once
    stats = sandbox.admin.stats()
    limited = stats["rate_limited_by_key"].get(sandbox.api_key, 0)
    assert limited > stats_before["rate_limited_by_key"].get(sandbox.api_key, 0)
    # No request came before the Retry-After of the 429 answered just before it was over.
    assert stats["retry_after_ignored_by_key"].get(sandbox.api_key, 0) == 0
