"""README.md's generated parts: settings from the plugins, the benchmark table from its results.

`scripts/sync_docs.py --check` renders them afresh from `--about` (markdown for the README,
the JSON config schema for meltano.yml) and from the newest full results file in
benchmarks/results/, and fails on any difference: a setting added, renamed, re-described or
re-typed in code, or a benchmark result committed, without regenerating the docs breaks the
build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from benchmarks import report
from scripts import sync_docs

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


def results_file(directory: Path, name: str, kind: str, date: str, measured: str) -> None:
    """A results file as `python -m benchmarks` writes it, with one goal."""
    data = {
        "kind": kind,
        "machine": {
            "date_utc": date,
            "cpu": "Test CPU",
            "cores": 2,
            "memory_gib": 8.0,
            "python": "3.11.7",
            "singer_sdk": "0.54.9",
        },
        "settings": {"records": 100_000, "latency_ms": 50, "page_size": 100, "repeat": 3},
        "runs": [],
        "goals": [
            {
                "name": "tap CPU per record vs raw_tap",
                "limit": "<= 1.60x",
                "measured": measured,
                "status": "PASS",
                "detail": "CPU: tap-recotap 3.00 s / raw_tap 2.50 s",
            }
        ],
    }
    (directory / name).write_text(json.dumps(data), encoding="utf-8")


def test_the_readme_benchmark_table_comes_from_the_newest_full_run_only(tmp_path):
    results_file(tmp_path, "20261101T000000Z.json", "full", "2026-11-01T00:00:00+00:00", "1.100x")
    results_file(tmp_path, "20261102T000000Z.json", "full", "2026-11-02T00:00:00+00:00", "1.200x")
    # Newer, but not full runs: never the README's figures.
    results_file(
        tmp_path, "20261103T000000Z-quick.json", "quick", "2026-11-03T00:00:00+00:00", "5.001x"
    )
    results_file(
        tmp_path, "20261104T000000Z-partial.json", "partial", "2026-11-04T00:00:00+00:00", "5.002x"
    )
    results_file(tmp_path, "history-imported-from-readme.json", "history", "2026-11-05", "5.003x")
    (tmp_path / "scratch").mkdir()
    results_file(
        tmp_path / "scratch", "20261106T000000Z.json", "full", "2026-11-06T00:00:00+00:00", "5.004x"
    )

    block = sync_docs.benchmark_block(tmp_path)

    assert "| tap CPU per record vs raw_tap | ≤ 1.60x | 1.200x | PASS |" in block
    assert "20261102T000000Z.json" in block
    assert "1.100x" not in block
    assert "5.00" not in block
    assert "100,000 accounts" in block
    assert "Test CPU, 2 cores, 8.0 GiB, Python 3.11.7, singer-sdk 0.54.9" in block


def test_without_a_full_run_the_readme_says_so_in_one_line(tmp_path):
    results_file(
        tmp_path, "20261103T000000Z-quick.json", "quick", "2026-11-03T00:00:00+00:00", "5.001x"
    )
    block = sync_docs.benchmark_block(tmp_path).splitlines()
    assert len(block) == 3  # the markers and one line
    assert block[1].startswith("No full benchmark run is recorded")


def test_a_hand_edited_benchmark_table_is_regenerated():
    readme = (ROOT / "README.md").read_text()
    start = readme.index(sync_docs.BENCHMARK_BLOCK) + len(sync_docs.BENCHMARK_BLOCK)
    edited = (
        readme[:start]
        + "\n| tap CPU per record vs raw_tap | ≤ 1.60x | 0.500x | PASS |"
        + readme[start:]
    )
    assert sync_docs.render_readme(edited) == readme


def test_the_generator_reads_where_and_what_the_benchmark_writes():
    # scripts/sync_docs.py cannot import the benchmarks (not an installed package).
    assert sync_docs.RESULTS_DIR == report.RESULTS_DIR
    assert sync_docs.FULL_RUN == report.FULL
    assert report.SCRATCH_DIR.parent == report.RESULTS_DIR  # not globbed: scratch is not read


def test_the_history_imported_from_the_old_readme_is_not_a_current_run():
    history = json.loads((report.RESULTS_DIR / "history-imported-from-readme.json").read_text())
    assert history["kind"] == "history"
    runs = history["full_runs"]
    assert [run["started_utc"] for run in runs] == sorted(run["started_utc"] for run in runs)
    assert len(runs[-1]["runs"]) == 37  # every row of the table the README printed


def test_the_rate_limited_pushes_are_shown_fixed_beside_adaptive(tmp_path):
    results_file(tmp_path, "20261101T000000Z.json", "full", "2026-11-01T00:00:00+00:00", "1.1x")
    path = tmp_path / "20261101T000000Z.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    push = {"records": 20_000, "wall_s": 20.61, "requests": 205, "rate_limited": 5}
    data["tables"] = {
        "rate_limited": [
            {
                **push,
                "limit_rps": 10.0,
                "program": "fixed 4",
                "throughput": 904.2,
                "share_429": 0.197,
                "settled": "4",
            },
            {
                **push,
                "limit_rps": None,
                "program": "adaptive",
                "throughput": 6688.0,
                "share_429": 0.0244,
                "settled": "",
            },
        ]
    }
    path.write_text(json.dumps(data), encoding="utf-8")

    block = sync_docs.benchmark_block(tmp_path)

    assert "Pushes of 20,000 accounts against a rate-limited sandbox" in block
    assert "| 10 requests/s | fixed 4 | 904 | 5 of 205 (19.7%) | 4 | 20.61 |" in block
    assert "| none | adaptive | 6,688 | 5 of 205 (2.4%) | - | 20.61 |" in block
