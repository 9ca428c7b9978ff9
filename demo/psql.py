"""Query the demo's warehouse afterwards: `python -m demo.psql "select ... from recotap.accounts"`.

Starts the embedded server on output/postgres again (the demo stopped it on exit), runs the SQL
with the server's own psql, and stops it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from demo.warehouse import start_server

PGDATA = Path(__file__).resolve().parent.parent / "output" / "postgres"


def main() -> None:
    """Run the SQL given as arguments and print psql's answer."""
    if len(sys.argv) < 2 or not (PGDATA / "PG_VERSION").exists():  # noqa: PLR2004
        sys.exit('usage, after `python3 run.py demo`: python -m demo.psql "select ..."')
    print(start_server(PGDATA).psql(" ".join(sys.argv[1:])), end="")


if __name__ == "__main__":
    main()
