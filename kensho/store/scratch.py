"""Throw-away databases on a PostgreSQL server, for tests and benchmarks (never the service).

Created with a random name from an admin connection (autocommit: `CREATE DATABASE` cannot run
in a transaction) and dropped `WITH (FORCE)`, so connections a failed run left open do not
keep it alive.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

__all__ = ["create_scratch_database", "scratch_database", "with_dbname"]


def with_dbname(dsn: str, dbname: str) -> str:
    """`dsn` pointing at `dbname`, as a URI (`Config` requires `scheme://`)."""
    params = {k: v for k, v in parse_dsn(dsn).items() if k != "dbname"}
    query = urlencode(params)
    return f"postgresql:///{quote(dbname)}" + (f"?{query}" if query else "")


def _execute(server_dsn: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def create_scratch_database(server_dsn: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database named `<prefix>_<random>`; return its DSN and a drop function."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    _execute(server_dsn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        _execute(
            server_dsn,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )

    return with_dbname(server_dsn, name), drop


@contextmanager
def scratch_database(server_dsn: str, prefix: str) -> Iterator[str]:
    """`create_scratch_database` as a context: yields the DSN, drops the database after."""
    dsn, drop = create_scratch_database(server_dsn, prefix)
    try:
        yield dsn
    finally:
        drop()
