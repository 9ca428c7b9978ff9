"""Pins for the singer-sdk private parts the plugins still rely on (see the modules named).

Each test fails when the SDK changes what the plugin code assumes, so an SDK upgrade breaks here,
by name, instead of silently in a sync.
"""

from __future__ import annotations

import inspect

from singer_sdk.helpers import _state
from singer_sdk.plugin_base import PluginBase

from tap_recotap import sdk_state


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


def test_config_validation_is_one_overridable_step_of_plugin_start_up():
    # recotap_plugin_common/settings_check.py overrides `_validate_config` and edits `_config`.
    assert "raise_errors" in inspect.signature(PluginBase._validate_config).parameters
    start_up = inspect.getsource(PluginBase.__init__)
    assert "self._validate_config(" in start_up
    assert "self._config" in start_up
