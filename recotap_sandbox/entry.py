"""The ``recotap-sandbox`` command: say which extra to install when the server's libraries are
missing (``pip install recotap-singer`` installs only what the plugins run on)."""

from __future__ import annotations

import importlib.util
import sys

INSTALL_HINT = (
    "recotap-sandbox needs its server's libraries (aiohttp), which the plugins alone do not "
    "install: pip install 'recotap-singer[sandbox]'"
)


def main() -> None:
    """Console-script entry point: check for aiohttp, then hand over to the sandbox's CLI."""
    if importlib.util.find_spec("aiohttp") is None:
        sys.exit(INSTALL_HINT)
    from recotap_sandbox.cli import main as serve  # noqa: PLC0415 (after the check, on purpose)

    serve()
