"""Pins for the singer-sdk private parts the plugins still rely on (see the modules named).

Each test fails when the SDK changes what the plugin code assumes, so an SDK upgrade breaks here,
by name, instead of silently in a sync. The last tests read every module of ours and fail on a
private SDK name outside the quarantined modules, or on more than three in all.
"""

from __future__ import annotations

import ast
import inspect
import io
from pathlib import Path
from typing import Any, ClassVar

import singer_sdk
from singer_sdk import typing as th
from singer_sdk.helpers import _state
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

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
    # recotap_plugin_common/settings_check.py overrides `_validate_config` (meltano/sdk#1309).
    assert list(inspect.signature(PluginBase._validate_config).parameters) == [
        "self",
        "raise_errors",
    ]
    start_up = inspect.getsource(PluginBase.__init__)
    assert "self._validate_config(raise_errors=validate_config)" in start_up
    # It runs after the config files and environment variables are merged...
    assert start_up.index("_env_var_config") < start_up.index("self._validate_config(")


def test_the_sdks_config_validation_fills_in_the_defaults():
    # ...and its pass (which SettingsCheck keeps, silencing its messages) fills in defaults.
    class Plugin(PluginBase):
        name = "pin-plugin"
        config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList(
            th.Property("answer", th.IntegerType, default=42),
        ).to_dict()

    assert Plugin(config={}).config["answer"] == 42


class _Events:
    log: ClassVar[list[str]] = []


class _RecordingSink(BatchSink):
    def process_batch(self, context: dict) -> None:
        _Events.log.append("batch sent")


class _RecordingTarget(Target):
    name = "pin-target"
    default_sink_class = _RecordingSink
    config_jsonschema: ClassVar[dict[str, Any]] = th.PropertiesList().to_dict()

    def _write_state_message(self, state: dict) -> None:
        _Events.log.append(f"state {state}")


def test_the_state_is_written_by_one_overridable_step_after_every_sink_is_drained():
    # target_recotap/sdk_seams.py overrides `Target._write_state_message` to wait for the
    # batches in flight: the SDK must call it, with the state, after draining the sinks.
    assert list(inspect.signature(Target._write_state_message).parameters) == ["self", "state"]
    lines = [
        '{"type": "SCHEMA", "stream": "s", "schema": {"properties": {"id": {}}}, '
        '"key_properties": []}',
        '{"type": "RECORD", "stream": "s", "record": {"id": 1}}',
        '{"type": "STATE", "value": {"bookmarks": {"s": 1}}}',
    ]
    _Events.log = []

    _RecordingTarget(config={}).listen(io.StringIO("\n".join(lines) + "\n"))

    assert _Events.log == ["batch sent", "state {'bookmarks': {'s': 1}}"]


# The scan: which singer-sdk private names our packages use, and where.

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tap_recotap", "target_recotap", "recotap_plugin_common", "recotap_client")
#: One module per plugin may use SDK-private names; each names the seam that would replace them.
QUARANTINED = {
    "tap_recotap/sdk_state.py",
    "target_recotap/sdk_seams.py",
    "recotap_plugin_common/settings_check.py",
}
MAX_PRIVATE_USES = 3


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def sdk_private_names() -> set[str]:
    """Every private method, attribute or class-level name singer-sdk defines or uses."""
    names: set[str] = set()
    for path in Path(singer_sdk.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {name for name in names if _is_private(name)}


def private_uses(source: str, sdk_names: set[str]) -> set[str]:
    """The SDK-private names a module of ours uses: private modules or names it imports from
    singer_sdk, private SDK attributes it reads or sets, private SDK methods it overrides."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            module = node.module or ""
            if any(_is_private(part) for part in module.split(".")):
                found.add(module)
            found |= {alias.name for alias in node.names if _is_private(alias.name)}
        elif isinstance(node, ast.Import):
            found |= {
                alias.name
                for alias in node.names
                if alias.name.startswith("singer_sdk")
                and any(_is_private(part) for part in alias.name.split("."))
            }
        elif isinstance(node, ast.Attribute) and node.attr in sdk_names:
            found.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            found |= {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name in sdk_names
            }
    return found


def uses_by_module() -> dict[str, set[str]]:
    sdk_names = sdk_private_names()
    uses = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found = private_uses(path.read_text(encoding="utf-8"), sdk_names)
            if found:
                uses[str(path.relative_to(ROOT))] = found
    return uses


def test_private_sdk_names_appear_only_in_the_quarantined_modules():
    outside = {m: names for m, names in uses_by_module().items() if m not in QUARANTINED}
    assert outside == {}


def test_there_are_at_most_three_private_sdk_uses_in_all():
    every_use = set().union(*uses_by_module().values())
    assert len(every_use) <= MAX_PRIVATE_USES, sorted(every_use)


def test_the_scan_sees_each_kind_of_private_use():
    sdk_names = sdk_private_names()
    source = """
from singer_sdk.helpers._state import PROGRESS_MARKERS
from singer_sdk.plugin_base import _ConfigInput
import singer_sdk.helpers._typing
class T(Target):
    def _process_record_message(self, message): ...
    def own_step(self, sink):
        return sink._validate_and_parse({}), self._own_name
"""
    assert private_uses(source, sdk_names) == {
        "singer_sdk.helpers._state",
        "_ConfigInput",
        "singer_sdk.helpers._typing",
        "_process_record_message",
        "_validate_and_parse",
    }
