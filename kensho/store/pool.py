"""The aiopg pool and the few query helpers the rest of the code needs.

aiopg connections are always in autocommit mode; `transaction()` opens an explicit
BEGIN/COMMIT on one connection. Batched writes use one multi-row `VALUES` statement per batch
(built with the driver's own quoting), which is one round trip instead of one per row.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiopg
import orjson
import psycopg2

from kensho.config import Config
from kensho.observability.timings import DB_QUERY, timed

__all__ = [
    "Pool",
    "create_pool",
    "create_pool_from_config",
    "database_unavailable",
    "execute",
    "fetch_all",
    "fetch_one",
    "rollback_on_error",
    "transaction",
    "upsert_arrays",
    "values_sql",
]

Pool = aiopg.Pool

#: What aiopg raises (a bare RuntimeError) for an acquire once the pool is closing (shutdown).
_POOL_CLOSING = "Cannot acquire connection after closing pool"


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means PostgreSQL cannot serve us now (a 503), rather than a bug (a 500).

    The driver's errors, network errors and timeouts do; of RuntimeErrors only aiopg's
    closing-pool one does. Any other RuntimeError (a coroutine misusing a connection, a
    closed event loop) is a bug and must not hide behind "the database is unavailable".
    """
    if isinstance(exc, psycopg2.Error | OSError | TimeoutError):
        return True
    return type(exc) is RuntimeError and str(exc).startswith(_POOL_CLOSING)


async def create_pool(
    dsn: str, *, minsize: int = 1, maxsize: int = 10, acquire_timeout: float = 30.0
) -> Any:
    """An aiopg pool; hstore discovery is off (one round trip per connection saved)."""
    return await aiopg.create_pool(
        dsn, minsize=minsize, maxsize=maxsize, timeout=acquire_timeout, enable_hstore=False
    )


async def create_pool_from_config(config: Config, dsn: str | None = None) -> Any:
    """A pool sized by `db_pool_min`/`db_pool_max`; `dsn` overrides `config.database_url`."""
    url = dsn or config.database_url
    if url is None:
        raise ValueError("no database DSN: start the embedded server first and pass its DSN")
    return await create_pool(url, minsize=config.db_pool_min, maxsize=config.db_pool_max)


_FETCH_ALL, _FETCH_ONE, _EXECUTE = (
    DB_QUERY.labels(h) for h in ("fetch_all", "fetch_one", "execute")
)


def fetch_all(
    pool: Any, query: str, params: Sequence[Any] | None = None
) -> Awaitable[list[tuple[Any, ...]]]:
    """All rows of a query (timed: `db_query_duration_seconds`)."""
    return timed(_FETCH_ALL, _fetch_all(pool, query, params))


def fetch_one(
    pool: Any, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> Awaitable[tuple[Any, ...] | None]:
    """The first row of a query, or None (timed)."""
    return timed(_FETCH_ONE, _fetch_one(pool, query, params))


def execute(pool: Any, query: str, params: Sequence[Any] | None = None) -> Awaitable[int]:
    """Run a statement; return the affected row count (timed)."""
    return timed(_EXECUTE, _execute(pool, query, params))


async def _fetch_all(
    pool: Any, query: str, params: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(query, params)
        rows: list[tuple[Any, ...]] = await cur.fetchall()
        return rows


async def _fetch_one(
    pool: Any, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> tuple[Any, ...] | None:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(query, params)
        row: tuple[Any, ...] | None = await cur.fetchone()
        return row


async def _execute(pool: Any, query: str, params: Sequence[Any] | None = None) -> int:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(query, params)
        return int(cur.rowcount)


@asynccontextmanager
async def rollback_on_error(cur: Any) -> AsyncIterator[None]:
    """Around statements that run inside an open transaction: ROLLBACK if anything escapes.

    A cancelled aiopg query closes its cursor (the server then rolls back by itself), so the
    ROLLBACK may fail; the original exception, often `CancelledError`, must still be the one
    that propagates, or a cancelled job would see a driver error and keep running.
    """
    try:
        yield
    except BaseException:
        with contextlib.suppress(psycopg2.Error):
            await cur.execute("ROLLBACK")
        raise


@asynccontextmanager
async def transaction(pool: Any) -> AsyncIterator[Any]:
    """A cursor inside BEGIN…COMMIT (ROLLBACK on any exception, cancellation included)."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("BEGIN")
        async with rollback_on_error(cur):
            yield cur
        await cur.execute("COMMIT")


def values_sql(cur: Any, rows: Sequence[Sequence[Any]], template: str | None = None) -> str:
    """`(…),(…)` for a multi-row VALUES, each row quoted by the driver (`cur.mogrify`)."""
    if not rows:
        raise ValueError("values_sql needs at least one row")
    tpl = template or "(" + ",".join(["%s"] * len(rows[0])) + ")"
    return ",".join(cur.mogrify(tpl, tuple(r)).decode("utf-8") for r in rows)


#: element types `upsert_arrays` knows; "text[]" and "jsonb" travel as text and are cast back
_ARRAY_TYPES = frozenset(
    {"text", "int", "bigint", "float8", "real", "bool", "date", "timestamptz", "jsonb", "text[]"}
)


async def upsert_arrays(
    cur: Any,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
    extra: Sequence[tuple[str, str]] = (),
    batch: int = 5000,
) -> int:
    """INSERT … SELECT FROM unnest(one array per column) ON CONFLICT; return rows written.

    One array parameter per column instead of one quoted tuple per row: less client-side
    quoting and one small statement for the server to parse, whatever the batch size (profiled
    ~1.5x cheaper than multi-row VALUES for catalog pages). `columns` are (name, type) with a type
    from `_ARRAY_TYPES`; a "text[]" value is a list (sent as JSON), a "jsonb" value JSON text.
    `extra` adds (column, SQL expression) pairs such as ("updated_at", "now()"). Identifiers and
    expressions come from our own code, never from input. `update` defaults to every non-conflict
    column (extras included); an empty `update` means DO NOTHING.
    """
    for name, kind in columns:
        if kind not in _ARRAY_TYPES:
            raise ValueError(f"upsert_arrays: unsupported type {kind!r} for column {name}")
    names = [c for c, _ in columns] + [c for c, _ in extra]
    exprs = []
    for i, (_, kind) in enumerate(columns):
        col = f"u.c{i}"
        if kind == "text[]":
            exprs.append(f"ARRAY(SELECT jsonb_array_elements_text({col}::jsonb))")
        elif kind == "jsonb":
            exprs.append(f"{col}::jsonb")
        else:
            exprs.append(col)
    exprs += [expr for _, expr in extra]
    params_sql = ", ".join(
        "%s::text[]" if kind in ("text[]", "jsonb") else f"%s::{kind}[]" for _, kind in columns
    )
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    upd = [c for c in names if c not in conflict] if update is None else list(update)
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in upd) if upd else "DO NOTHING"
    )
    query = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} "
        f"FROM unnest({params_sql}) AS u({aliases}) ON CONFLICT ({', '.join(conflict)}) {action}"
    )
    json_cols = [i for i, (_, kind) in enumerate(columns) if kind == "text[]"]
    written = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        if not chunk:
            continue
        if any(len(row) != len(columns) for row in chunk):
            raise ValueError(f"upsert_arrays: every row needs {len(columns)} values")
        arrays = [list(col) for col in zip(*chunk, strict=True)]
        for i in json_cols:
            arrays[i] = [None if v is None else orjson.dumps(v).decode() for v in arrays[i]]
        await cur.execute(query, arrays)
        written += max(0, int(cur.rowcount))
    return written
