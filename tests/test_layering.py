"""The packages' layering, read from their imports (docs/architecture.md).

- recotap_client, the Recotap HTTP client, imports no singer-sdk and no other package of ours;
- recotap_plugin_common (singer-sdk side, shared by both plugins) imports only the client;
- tap_recotap and target_recotap import the client and the common part, never each other;
- recotap_sandbox implements the API docs on its own: it imports none of them, nor they it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {
    "recotap_client",
    "recotap_plugin_common",
    "tap_recotap",
    "target_recotap",
    "recotap_sandbox",
}
#: For each package: the packages (ours, and singer_sdk) it must not import.
FORBIDDEN = {
    "recotap_client": OURS - {"recotap_client"} | {"singer_sdk"},
    "recotap_plugin_common": OURS - {"recotap_client", "recotap_plugin_common"},
    "tap_recotap": {"target_recotap", "recotap_sandbox"},
    "target_recotap": {"tap_recotap", "recotap_sandbox"},
    "recotap_sandbox": OURS - {"recotap_sandbox"},
}


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module imports, anywhere in it (functions, TYPE_CHECKING too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def breaches(package: str) -> list[str]:
    """`module: imports x` for every forbidden import in `package`."""
    return [
        f"{path.relative_to(ROOT)}: imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(imported_packages(path.read_text()) & FORBIDDEN[package])
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_imports_only_what_its_layer_allows(package):
    assert list((ROOT / package).rglob("*.py")), f"{package} has no modules"
    assert breaches(package) == []


def test_every_package_of_the_distribution_has_its_layer():
    wheel_packages = {
        line.strip().strip('",')
        for line in (ROOT / "pyproject.toml")
        .read_text()
        .split("packages = [")[1]
        .split("]")[0]
        .splitlines()
        if line.strip()
    }
    assert wheel_packages == set(FORBIDDEN)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import singer_sdk.typing as th", {"singer_sdk"}),
        ("from tap_recotap.tap import TapRecotap", {"tap_recotap"}),
        ("def f():\n    from recotap_sandbox import control", {"recotap_sandbox"}),
        ("from . import sibling", set()),
    ],
)
def test_imports_are_found_wherever_they_are_written(source, found):
    assert imported_packages(source) == found
