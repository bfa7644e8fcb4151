"""Migration runner against a real PostgreSQL: each test gets its own empty database."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

import aiopg
import pytest

from kensho.store.migrations import (
    MigrationError,
    load_migrations,
    migrate,
    migrate_main,
    migration_status,
)

REPO = Path(__file__).resolve().parents[2]


async def _scalar(dsn: str, query: str) -> object:
    async with aiopg.connect(dsn, enable_hstore=False) as conn, conn.cursor() as cur:
        await cur.execute(query)
        row = await cur.fetchone()
        return row[0]


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).write_text(text)


async def test_empty_database_reaches_latest_and_rerun_is_noop(
    make_database: Callable[[], str],
) -> None:
    dsn = make_database()
    expected = load_migrations()
    applied = await migrate(dsn)
    assert [m.version for m in applied] == [m.version for m in expected]
    assert await _scalar(dsn, "SELECT count(*) FROM schema_migrations") == len(expected)
    for table in ("series", "seasons", "episodes", "series_titles", "catalog_sync_state"):
        assert await _scalar(dsn, f"SELECT to_regclass('{table}') IS NOT NULL") is True
    assert await migrate(dsn) == []
    status = await migration_status(dsn)
    assert {s.state for s in status} == {"applied"}


async def test_changed_checksum_is_refused_naming_the_file(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    dsn = make_database()
    _write(tmp_path, {"0001_first.sql": "CREATE TABLE t1 (id int);"})
    await migrate(dsn, migrations=load_migrations(tmp_path))
    _write(tmp_path, {"0001_first.sql": "CREATE TABLE t1 (id bigint);"})
    with pytest.raises(MigrationError, match=r"0001_first\.sql was changed"):
        await migrate(dsn, migrations=load_migrations(tmp_path))
    assert [s.state for s in await migration_status(dsn, migrations=load_migrations(tmp_path))] == [
        "changed"
    ]


async def test_failing_migration_rolls_back_only_itself(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    dsn = make_database()
    _write(
        tmp_path,
        {
            "0001_ok.sql": "CREATE TABLE ok (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int);\nCREATE TABLE broken (id nosuchtype);",
        },
    )
    with pytest.raises(MigrationError, match=r"0002_bad\.sql failed"):
        await migrate(dsn, migrations=load_migrations(tmp_path))
    assert await _scalar(dsn, "SELECT array_agg(version) FROM schema_migrations") == [1]
    assert await _scalar(dsn, "SELECT to_regclass('half') IS NULL") is True
    # the lock was released: a fixed file applies
    _write(tmp_path, {"0002_bad.sql": "CREATE TABLE half (id int);"})
    assert len(await migrate(dsn, migrations=load_migrations(tmp_path))) == 1


async def test_concurrent_migrators_end_with_one_applied_set(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    dsn = make_database()
    # a slow first file widens the window in which the others must wait on the lock
    _write(
        tmp_path,
        {
            "0001_slow.sql": "SELECT pg_sleep(0.2); CREATE TABLE a (id int);",
            "0002_next.sql": "CREATE TABLE b (id int);",
        },
    )
    migs = load_migrations(tmp_path)
    results = await asyncio.gather(*(migrate(dsn, migrations=migs) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 2]
    assert await _scalar(dsn, "SELECT count(*) FROM schema_migrations") == 2


@pytest.mark.parametrize(
    "name",
    ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "0001_; DROP TABLE x.sql", "abcd_x.sql"],
)
def test_misnamed_files_are_rejected(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="misnamed"):
        load_migrations(tmp_path)


def test_duplicate_versions_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"})
    with pytest.raises(MigrationError, match="share version 1"):
        load_migrations(tmp_path)


def test_non_sql_files_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, {"README.md": "notes", "0002_b.sql": "SELECT 2;", "0001_a.sql": "SELECT 1;"})
    assert [m.filename for m in load_migrations(tmp_path)] == ["0001_a.sql", "0002_b.sql"]


def test_packaged_copy_matches_source_of_truth() -> None:
    source = {p.name: p.read_bytes() for p in (REPO / "migrations").glob("*.sql")}
    packaged = {p.name: p.read_bytes() for p in (REPO / "kensho/store/sql").glob("*.sql")}
    assert source, "migrations/ is empty"
    assert packaged == source, "copy migrations/*.sql to kensho/store/sql/"


def test_cli_migrate_and_status(
    make_database: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = make_database()
    monkeypatch.setenv("KENSHO_DATABASE_URL", dsn)
    assert migrate_main(argparse.Namespace(status=True)) == 0
    assert "pending" in capsys.readouterr().out
    assert migrate_main(argparse.Namespace(status=False)) == 0
    assert migrate_main(argparse.Namespace(status=True)) == 0
    out = capsys.readouterr().out
    assert "applied" in out and "pending" not in out


async def test_search_events_are_carried_over_as_counts_per_minute(
    make_database: Callable[[], str],
) -> None:
    """0005 turns the per-search rows of 0003 into counts per (minute, query, ...)."""
    dsn = make_database()
    every = load_migrations()
    await migrate(dsn, migrations=[m for m in every if m.version <= 4])
    async with aiopg.connect(dsn, enable_hstore=False) as conn, conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO search_events (at, query, kind, genre, result_count, latency_ms, paged) "
            "VALUES ('2026-01-01 12:00:05Z', 'naruto', NULL, NULL, 20, 1, false), "
            "('2026-01-01 12:00:59Z', 'naruto', NULL, NULL, 20, 1, false), "
            "('2026-01-01 12:01:00Z', 'naruto', 'tv', NULL, 20, 1, false), "
            "('2026-01-01 12:00:30Z', 'zzz', NULL, NULL, 0, 1, false)"
        )
    await migrate(dsn)
    async with aiopg.connect(dsn, enable_hstore=False) as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT to_char(minute AT TIME ZONE 'UTC', 'HH24:MI'), query, kind, genre, "
            "result_count, searches FROM search_query_minutes ORDER BY 1, 2, 3"
        )
        rows = await cur.fetchall()
    assert rows == [
        ("12:00", "naruto", "", "", 20, 2),
        ("12:00", "zzz", "", "", 0, 1),
        ("12:01", "naruto", "tv", "", 20, 1),
    ]
