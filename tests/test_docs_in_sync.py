"""README.md's settings tables and meltano.yml's settings are generated from the plugins.

`scripts/sync_docs.py --check` renders both afresh from `--about` (markdown for the README,
the JSON config schema for meltano.yml) and fails on any difference: a setting added, renamed,
re-described or re-typed in code without regenerating the docs breaks the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {"tap-recotap": "extractors", "target-recotap": "loaders"}


def settings_of(plugin: str) -> dict:
    """The plugin's settings as `--about --format=json` reports them."""
    executable = Path(sys.executable).with_name(plugin)
    about = subprocess.run(
        [str(executable), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return json.loads(about.stdout)["settings"]["properties"]


def test_readme_and_meltano_yml_match_the_plugins_settings():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_meltano_yml_declares_every_config_setting_with_its_secrecy():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for plugin, kind in PLUGINS.items():
        entry = next(p for p in project["plugins"][kind] if p["name"] == plugin)
        declared = {s["name"]: s for s in entry["settings"]}
        assert set(declared) == set(settings_of(plugin))
        assert declared["api_key"].get("sensitive") is True
        assert entry["settings_group_validation"] == [["api_key"]]
        assert not any(s.get("kind") == "password" for s in declared.values())  # deprecated


def test_readme_has_both_generated_settings_tables():
    readme = (ROOT / "README.md").read_text()
    for plugin in PLUGINS:
        block = readme.split(f"<!-- generated: {plugin} about -->")[1]
        block = block.split("<!-- end generated -->")[0]
        for setting in settings_of(plugin):
            assert f"| {setting} |" in block, f"{setting} missing for {plugin}"


def about_of(plugin: str) -> dict:
    executable = Path(sys.executable).with_name(plugin)
    about = subprocess.run(
        [str(executable), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return json.loads(about.stdout)


def test_the_hub_definitions_declare_every_setting_capability_and_secret():
    for plugin, kind in PLUGINS.items():
        definition = yaml.safe_load(
            (ROOT / "plugins" / kind / f"{plugin}--recotap.yml").read_text()
        )
        about = about_of(plugin)
        properties = about["settings"]["properties"]
        declared = {s["name"]: s for s in definition["settings"]}

        assert definition["name"] == plugin
        assert definition["executable"] == plugin
        assert definition["pip_url"] == "recotap-singer"
        assert definition["capabilities"] == about["capabilities"]
        assert list(declared) == list(properties)
        secret = {name for name, prop in properties.items() if prop.get("secret")}
        assert {name for name, s in declared.items() if s.get("sensitive")} == secret == {"api_key"}
        assert definition["settings_group_validation"] == [about["settings"]["required"]]
        # Meltano 4.4.1 cannot pass a `decimal` from an environment variable (README).
        assert not any(s.get("kind") in {"decimal", "password"} for s in declared.values())
