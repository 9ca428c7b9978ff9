"""Pins for the singer-sdk private parts the plugins still rely on (see the modules named).

Each test fails when the SDK changes what the plugin code assumes, so an SDK upgrade breaks here,
by name, instead of silently in a sync.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from singer_sdk import Stream, Tap
from singer_sdk.helpers import _state
from singer_sdk.plugin_base import PluginBase

from tap_recotap import sdk_state

TAP_PACKAGE = Path(__file__).resolve().parent.parent / "tap_recotap"


def test_the_state_entries_tap_recotap_reads_keep_their_names():
    # tap_recotap/sdk_state.py: AccountsStream reads these entries of a stream's state.
    assert sdk_state.PROGRESS_MARKERS == _state.PROGRESS_MARKERS == "progress_markers"
    assert sdk_state.SIGNPOST_MARKER == _state.SIGNPOST_MARKER == "replication_key_signpost"


def test_the_sdk_promotes_progress_markers_and_clamps_them_to_the_signpost():
    # What dropping the markers (keep the bookmark) and setting the signpost rely on.
    state = {
        "replication_key_signpost": "2026-01-01T00:00:00+00:00",
        "progress_markers": {
            "replication_key": "updated",
            "replication_key_value": "2026-06-01T00:00:00+00:00",
        },
    }
    _state.finalize_state_progress_markers(state)
    assert state["replication_key_value"] == "2026-01-01T00:00:00+00:00"
    assert "progress_markers" not in state

    kept = {"replication_key": "updated", "replication_key_value": "2025-01-01T00:00:00+00:00"}
    kept["progress_markers"] = {"replication_key_value": "2026-06-01T00:00:00+00:00"}
    _state.finalize_state_progress_markers(kept)
    assert kept["replication_key_value"] == "2025-01-01T00:00:00+00:00"


def _sdk_private_names() -> set[str]:
    """Private names of the SDK's Tap and Stream: class members and what their __init__ set."""
    names = {name for cls in (Stream, Tap) for name in dir(cls)}
    for init in (Stream.__init__, Tap.__init__, PluginBase.__init__):
        names |= set(re.findall(r"self\.(_\w+)", inspect.getsource(init)))
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _private_uses(source: str, sdk_private: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            parts = [*(node.module or "").split("."), *(alias.name for alias in node.names)]
            found += [f"import {node.module}" for part in parts if part.startswith("_")][:1]
        elif isinstance(node, ast.Attribute) and node.attr in sdk_private:
            found.append(f"uses {node.attr}")
        elif isinstance(node, ast.FunctionDef) and node.name in sdk_private:
            found.append(f"overrides {node.name}")
    return found


def test_the_tap_uses_no_other_private_sdk_name_than_in_sdk_state():
    # The tap's one quarantined private use is sdk_state.py; everything else is public seams.
    sdk_private = _sdk_private_names()
    assert {"_tap", "_sync_records", "_generate_record_messages"} <= sdk_private  # the scan works
    offenders = {
        path.name: uses
        for path in sorted(TAP_PACKAGE.glob("*.py"))
        if path.name != "sdk_state.py" and (uses := _private_uses(path.read_text(), sdk_private))
    }
    assert offenders == {}
    assert _private_uses((TAP_PACKAGE / "sdk_state.py").read_text(), sdk_private) == [
        "import singer_sdk.helpers._state"
    ]


def test_config_validation_is_one_overridable_step_of_plugin_start_up():
    # recotap_plugin_common/settings_check.py overrides `_validate_config` and edits `_config`.
    assert "raise_errors" in inspect.signature(PluginBase._validate_config).parameters
    start_up = inspect.getsource(PluginBase.__init__)
    assert "self._validate_config(" in start_up
    assert "self._config" in start_up
