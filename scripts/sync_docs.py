"""Keep README.md and meltano.yml in step with the plugins' own settings.

The plugins' config schemas are the one source of truth. This script writes, from them:
- README.md: each plugin's capabilities and settings table, from `--about --format=markdown`,
  between `<!-- generated: PLUGIN about -->` and `<!-- end generated -->`;
- meltano.yml: the `settings` and `capabilities` of the two custom plugins, from
  `--about --format=json`.

    .venv/bin/python scripts/sync_docs.py           # rewrite both files
    .venv/bin/python scripts/sync_docs.py --check   # exit 1 and show what drifted
"""

from __future__ import annotations

import difflib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MELTANO_YML = ROOT / "meltano.yml"
PLUGINS = {"tap-recotap": "extractors", "target-recotap": "loaders"}
# JSON-schema type (and format) → Meltano setting kind.
KINDS = {
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def about(plugin: str, fmt: str) -> str:
    """The plugin's `--about` output in `fmt`, from its console script in this venv."""
    executable = Path(sys.executable).with_name(plugin)
    return subprocess.run(
        [str(executable), "--about", f"--format={fmt}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def readme_block(plugin: str) -> str:
    """Capabilities and settings of `plugin`, with headings one level under the README's."""
    markdown = about(plugin, "markdown")
    body = markdown[markdown.index("## Capabilities") :]
    body = re.sub(r"^## ", "#### ", body, flags=re.MULTILINE)
    return f"<!-- generated: {plugin} about -->\n{body.strip()}\n<!-- end generated -->"


def render_readme(text: str) -> str:
    """README text with every generated block replaced by a fresh one."""
    for plugin in PLUGINS:
        pattern = re.compile(
            rf"<!-- generated: {re.escape(plugin)} about -->.*?<!-- end generated -->", re.DOTALL
        )
        match = pattern.search(text)
        if match is None:
            raise SystemExit(f"README.md has no generated block for {plugin}")
        text = text[: match.start()] + readme_block(plugin) + text[match.end() :]
    return text


def meltano_setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One Meltano setting definition from a config-schema property."""
    types = schema.get("type", "string")
    json_type = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
    setting: dict[str, Any] = {"name": name, "label": schema.get("title") or name}
    setting["description"] = schema.get("description", "")
    kind = "date_iso8601" if schema.get("format") == "date-time" else KINDS.get(json_type)
    if kind:
        setting["kind"] = kind
    if schema.get("secret"):
        setting["sensitive"] = True
    return setting


def render_meltano_yml(text: str) -> str:
    """meltano.yml text with the custom plugins' settings and capabilities regenerated."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # one line per description: no folding, no trailing blanks
    yaml.indent(mapping=2, sequence=4, offset=2)
    project = yaml.load(text)
    for plugin, kind in PLUGINS.items():
        info = json.loads(about(plugin, "json"))
        entry = next(p for p in project["plugins"][kind] if p["name"] == plugin)
        entry["capabilities"] = list(info["capabilities"])
        entry["settings"] = [
            meltano_setting(name, schema) for name, schema in info["settings"]["properties"].items()
        ]
    out = io.StringIO()
    yaml.dump(project, out)
    return out.getvalue()


def main() -> int:
    """Rewrite (or with --check, compare) README.md and meltano.yml."""
    check = "--check" in sys.argv[1:]
    drifted = False
    for path, render in ((README, render_readme), (MELTANO_YML, render_meltano_yml)):
        current = path.read_text()
        fresh = render(current)
        if fresh == current:
            continue
        drifted = True
        if check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    f"{path.name} (committed)",
                    f"{path.name} (from the plugins)",
                )
            )
        else:
            path.write_text(fresh)
            print(f"updated {path.name}")
    if check and drifted:
        print("\nREADME.md / meltano.yml drifted from the plugins' settings: run")
        print("    .venv/bin/python scripts/sync_docs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
