"""The distribution as a user installs it: wheel and sdist built, the wheel in a clean virtualenv.

Built once per module with `python -m build` (the sdist first, then the wheel from the sdist,
so a file missing from the sdist breaks the wheel), installed without the project's sources
on the path and without `-e`, then both plugins run from that virtualenv only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = str(Path(sys.executable).with_name("uv"))
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PLUGINS = ("tap-recotap", "target-recotap")

pytestmark = [pytest.mark.long, pytest.mark.xdist_group("packaging")]


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out), str(ROOT))
    return out


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A clean virtualenv with only the wheel (no extras) installed; its bin directory."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
    wheel = next(dist.glob("*.whl"))
    run(UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel))
    return venv / "bin"


def test_the_sdist_and_the_wheel_hold_every_package_and_the_plugin_definitions(dist):
    wheel = next(dist.glob(f"recotap_singer-{VERSION}-py3-none-any.whl"))
    sdist = next(dist.glob(f"recotap_singer-{VERSION}.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        packages = {name.split("/")[0] for name in archive.namelist()}
        scripts = archive.read(f"recotap_singer-{VERSION}.dist-info/entry_points.txt").decode()
    with tarfile.open(sdist) as archive:
        files = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    assert {
        "recotap_client",
        "recotap_plugin_common",
        "tap_recotap",
        "target_recotap",
        "recotap_sandbox",
    } <= packages
    for script in (*PLUGINS, "recotap-sandbox"):
        assert f"{script} = " in scripts
    assert {
        "pyproject.toml",
        "README.md",
        "plugins/extractors/tap-recotap--recotap.yml",
        "plugins/loaders/target-recotap--recotap.yml",
    } <= files


@pytest.mark.parametrize("plugin", PLUGINS)
def test_each_plugin_runs_from_the_installed_wheel(installed, plugin):
    # Away from this checkout: `python -c` would import its packages from the working directory.
    away = installed.parent
    version = run(str(installed / plugin), "--version", cwd=away)
    about = json.loads(run(str(installed / plugin), "--about", "--format=json", cwd=away).stdout)
    where = run(
        str(installed / "python"),
        "-c",
        "import tap_recotap, target_recotap; print(tap_recotap.__file__)",
        cwd=away,
    )

    assert f"{plugin} v{VERSION}," in version.stdout
    assert about["name"] == plugin
    assert about["version"] == VERSION
    assert "api_key" in about["settings"]["properties"]
    assert where.stdout.startswith(str(away))  # the wheel's copy, not this checkout


def test_the_plugins_alone_do_not_install_the_sandboxs_server(installed):
    away = installed.parent
    found = run(
        str(installed / "python"),
        "-c",
        "import importlib.util as u; print(u.find_spec('aiohttp'))",
        cwd=away,
    )
    sandbox = subprocess.run(
        [str(installed / "recotap-sandbox"), "--port", "0"],
        cwd=away,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert found.stdout.strip() == "None"
    assert sandbox.returncode != 0
    assert "pip install 'recotap-singer[sandbox]'" in sandbox.stderr
    assert "Traceback" not in sandbox.stderr
