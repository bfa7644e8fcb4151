"""`upsert_arrays` (one array parameter per column) against the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kensho.store.pool import fetch_all, transaction, upsert_arrays

COLUMNS = [
    ("id", "text"),
    ("n", "int"),
    ("x", "float8"),
    ("flag", "bool"),
    ("day", "date"),
    ("at", "timestamptz"),
    ("doc", "jsonb"),
    ("tags", "text[]"),
]
HOSTILE = '\'); DROP TABLE t; -- {"a",b} \\ é 🦊'


@pytest.fixture
async def table(db_pool: Any) -> AsyncIterator[str]:
    name = "upsert_arrays_probe"
    async with db_pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(
            f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id text PRIMARY KEY, n int, "
            "x double precision, flag bool, day date, at timestamptz, doc jsonb, "
            "tags text[] NOT NULL DEFAULT '{}', touched timestamptz)"
        )
    yield name
    async with db_pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(f"DROP TABLE IF EXISTS {name}")


async def test_round_trips_every_type_nulls_and_hostile_text(db_pool: Any, table: str) -> None:
    rows = [
        ("a", 1, 1.5, True, "2020-01-02", "2016-04-02T23:30:00Z", '{"k": [1]}', ["x", HOSTILE]),
        (HOSTILE, None, None, None, None, None, None, []),
    ]
    async with transaction(db_pool) as cur:
        n = await upsert_arrays(cur, table, COLUMNS, rows, conflict=["id"])
    assert n == 2
    got = await fetch_all(
        db_pool, f"SELECT id, n, x, flag, day::text, doc, tags FROM {table} ORDER BY n NULLS LAST"
    )
    assert got == [
        ("a", 1, 1.5, True, "2020-01-02", {"k": [1]}, ["x", HOSTILE]),
        (HOSTILE, None, None, None, None, None, []),
    ]


async def test_updates_on_conflict_and_counts_batches(db_pool: Any, table: str) -> None:
    rows = [(f"id{i}", i, 0.0, False, None, None, "{}", ["t"]) for i in range(25)]
    async with transaction(db_pool) as cur:
        assert await upsert_arrays(cur, table, COLUMNS, rows, conflict=["id"], batch=10) == 25
        changed = [(r[0], 100 + r[1], *r[2:]) for r in rows[:3]]
        extra = [("touched", "now()")]
        assert await upsert_arrays(cur, table, COLUMNS, changed, conflict=["id"], extra=extra) == 3
        # DO NOTHING: existing keys are not counted
        assert await upsert_arrays(cur, table, COLUMNS, rows, conflict=["id"], update=[]) == 0
    got = await fetch_all(
        db_pool, f"SELECT count(*), sum(n), count(touched) FROM {table} WHERE n >= 100"
    )
    assert got == [(3, 303, 3)]


async def test_refuses_unknown_types(db_pool: Any, table: str) -> None:
    async with transaction(db_pool) as cur:
        with pytest.raises(ValueError, match="unsupported type"):
            await upsert_arrays(
                cur, table, [("id", "text); DROP TABLE x; --")], [("a",)], conflict=["id"]
            )
        with pytest.raises(ValueError):  # ragged rows are a bug, not silently truncated
            await upsert_arrays(
                cur, table, [("id", "text"), ("n", "int")], [("a",)], conflict=["id"]
            )
