"""In-process checks of the STATE the target emits (sdk_seams.py, target.py).

mutmut credits a test only with the calls it makes in its own process (docs/mutation.md); the
dry-run STATE promise was checked only through a `target-recotap` process. These run the target
through the in-process harness and check what a user sees: the STATE lines on stdout, the log,
what reached the API.
"""

from __future__ import annotations

_STATE = {"bookmarks": {"accounts": {"replication_key_value": "2"}}}


def _accounts(count: int) -> list[dict]:
    return [{"domain": f"st{i}.example.org", "name": f"St {i}"} for i in range(count)]


def test_a_dry_run_emits_no_state_and_says_why(harness, sandbox, target_logs):
    messages = [*harness.stream("accounts", _accounts(2)), harness.state(_STATE)]

    result = harness.run(messages, dry_run=True)

    assert result.states == []  # nothing written: the tap's state must not move on
    assert "Dry run: not emitting STATE (nothing was written)" in target_logs.messages
    assert result.counts("accounts") == {"would_send": 2}
    assert "POST /api/v1/accounts" not in sandbox.admin.stats()["requests"]


def test_a_real_run_passes_the_taps_state_on_unchanged(harness, sandbox, target_logs):
    messages = [*harness.stream("accounts", _accounts(2)), harness.state(_STATE)]

    result = harness.run(messages)

    assert result.states == [_STATE]
    assert "Dry run" not in target_logs.text
    assert result.counts("accounts") == {"created": 2}
