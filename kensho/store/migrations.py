"""Versioned SQL migrations: `NNNN_name.sql` files applied in order, recorded with a checksum.

Each file runs in its own transaction together with its `schema_migrations` row, so a failed
migration leaves nothing behind. A session-level advisory lock serialises concurrent migrators
(two replicas starting at once); the second waits, then finds nothing left to do. Editing an
applied file is refused: its checksum no longer matches, and we stop rather than guess.

Where the files live: `migrations/` at the repository root is the source of truth;
`kensho/store/sql/` is the byte-identical copy shipped in the wheel (a test keeps them equal).
In a checkout the runner reads `migrations/`, in an installed package the packaged copy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar

import aiopg

from kensho.config import ConfigError, load_config
from kensho.errors import KenshoError
from kensho.store.embedded import missing_embedded, start_embedded_postgres
from kensho.store.pool import rollback_on_error

__all__ = [
    "Migration",
    "MigrationError",
    "MigrationStatus",
    "load_migrations",
    "migrate",
    "migrate_main",
    "migration_status",
    "migrations_dir",
]

log = logging.getLogger(__name__)

#: pg_advisory_lock key: the first 8 bytes of sha1("kensho.migrations") as a signed bigint.
LOCK_KEY = int.from_bytes(hashlib.sha1(b"kensho.migrations").digest()[:8], "big", signed=True)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(KenshoError):
    """The migrations cannot be applied as they are; the message names the file and the fix."""

    slug: ClassVar[str] = "migration"
    expose: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file."""

    version: int
    name: str
    filename: str
    sql: str
    checksum: str  # sha256 of the file's bytes


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """A migration as `kensho migrate --status` shows it."""

    version: int
    filename: str
    applied_at: datetime | None
    state: str  # applied | pending | changed | missing-file


def migrations_dir() -> Traversable:
    """The checkout's `migrations/` when present, else the copy packaged in `kensho.store.sql`."""
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    if checkout.is_dir() and any(checkout.glob("*.sql")):
        return checkout
    return resources.files("kensho.store") / "sql"


def load_migrations(directory: Traversable | Path | None = None) -> list[Migration]:
    """Read and validate every `NNNN_name.sql` in `directory`, sorted by version."""
    root = directory if directory is not None else migrations_dir()
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name!r} is misnamed: expected NNNN_lower_snake_name.sql"
            )
        data = entry.read_bytes()
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"migrations {found[version].filename!r} and {entry.name!r} share version {version}"
            )
        found[version] = Migration(
            version=version,
            name=match.group(2),
            filename=entry.name,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


@asynccontextmanager
async def _connection(pool_or_dsn: Any) -> AsyncIterator[Any]:
    """A dedicated connection: from the pool when given one, else a fresh one for the DSN."""
    if isinstance(pool_or_dsn, str):
        conn = await aiopg.connect(pool_or_dsn, enable_hstore=False)
        try:
            yield conn
        finally:
            await conn.close()
    else:
        async with pool_or_dsn.acquire() as conn:
            yield conn


async def _applied(cur: Any) -> dict[int, tuple[str, str, datetime]]:
    await cur.execute("SELECT version, name, checksum, applied_at FROM schema_migrations")
    rows = await cur.fetchall()
    return {int(v): (str(n), str(c), a) for v, n, c, a in rows}


def _check_checksums(
    migrations: Iterable[Migration], applied: dict[int, tuple[str, str, datetime]]
) -> None:
    for m in migrations:
        if m.version in applied and applied[m.version][1] != m.checksum:
            raise MigrationError(
                f"migration {m.filename} was changed after it was applied "
                f"(checksum {m.checksum[:12]} != recorded {applied[m.version][1][:12]}): "
                "restore the file and add a new migration for the change"
            )


async def migrate(
    pool_or_dsn: Any, *, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply every pending migration in order; return those applied now (empty when current).

    `pool_or_dsn` is an aiopg pool or a libpq DSN. Raises `MigrationError` for a changed
    checksum or a failing file (the failing file's transaction is rolled back).
    """
    todo = load_migrations() if migrations is None else migrations
    done: list[Migration] = []
    async with _connection(pool_or_dsn) as conn, conn.cursor() as cur:
        await cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            await cur.execute(_CREATE_TABLE)
            applied = await _applied(cur)
            _check_checksums(todo, applied)
            known = {m.version for m in todo}
            for version in sorted(set(applied) - known):
                log.warning("applied migration %04d has no file (newer database?)", version)
            for m in todo:
                if m.version in applied:
                    continue
                await cur.execute("BEGIN")
                try:
                    async with rollback_on_error(cur):
                        await cur.execute(m.sql)
                        await cur.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum),
                        )
                        await cur.execute("COMMIT")
                except MigrationError:
                    raise
                except Exception as exc:
                    raise MigrationError(f"migration {m.filename} failed: {exc}") from exc
                log.info("applied migration %s", m.filename)
                done.append(m)
        finally:
            await cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return done


async def migration_status(
    pool_or_dsn: Any, *, migrations: list[Migration] | None = None
) -> list[MigrationStatus]:
    """Each known or recorded migration with its state, by version."""
    files = {m.version: m for m in (load_migrations() if migrations is None else migrations)}
    async with _connection(pool_or_dsn) as conn, conn.cursor() as cur:
        await cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = await cur.fetchone()
        applied = await _applied(cur) if row and row[0] else {}
    out: list[MigrationStatus] = []
    for version in sorted(set(files) | set(applied)):
        m = files.get(version)
        rec = applied.get(version)
        if m is None:
            assert rec is not None
            out.append(
                MigrationStatus(version, f"{version:04d}_{rec[0]}.sql", rec[2], "missing-file")
            )
        elif rec is None:
            out.append(MigrationStatus(version, m.filename, None, "pending"))
        else:
            state = "applied" if rec[1] == m.checksum else "changed"
            out.append(MigrationStatus(version, m.filename, rec[2], state))
    return out


def migrate_main(args: argparse.Namespace) -> int:
    """`kensho migrate [--status]`: 0 when current, 1 on a migration error, 2 on bad config."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"kensho migrate: {exc}", file=sys.stderr)
        return 2
    if (missing := missing_embedded(config, redis=False)) is not None:
        print(f"kensho migrate: {missing}", file=sys.stderr)
        return 2
    stop = None
    dsn = config.database_url
    if dsn is None:
        dsn, stop = start_embedded_postgres(config.data_dir)
    try:
        if getattr(args, "status", False):
            rows = asyncio.run(migration_status(dsn))
            for r in rows:
                when = r.applied_at.isoformat(timespec="seconds") if r.applied_at else "-"
                print(f"{r.version:04d}  {r.state:<12}  {when:<25}  {r.filename}")
            return 1 if any(r.state in ("changed", "missing-file") for r in rows) else 0
        applied = asyncio.run(migrate(dsn))
        print(f"applied {len(applied)} migration(s); schema is current")
        return 0
    except MigrationError as exc:
        print(f"kensho migrate: {exc}", file=sys.stderr)
        return 1
    finally:
        if stop is not None:
            stop()
