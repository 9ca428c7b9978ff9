"""Allow ``python -m recotap_sandbox``."""

from __future__ import annotations

from recotap_sandbox.cli import main

if __name__ == "__main__":
    main()
