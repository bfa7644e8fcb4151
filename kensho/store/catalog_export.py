"""The whole catalog (or a filtered part) read through a PostgreSQL server-side cursor.

psycopg2 has no named cursors in asynchronous mode, so the cursor is declared in SQL:
`DECLARE … NO SCROLL CURSOR` inside a `REPEATABLE READ READ ONLY` transaction (one consistent
snapshot for the whole export), then `FETCH FORWARD n` one batch at a time. Only one batch of
documents is in memory at once, and the next batch is fetched only when the caller asks for it:
a slow consumer stalls the fetching, it never makes rows pile up here. Rows come in id order,
so an export resumes exactly after the last id it delivered.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kensho.store.catalog_queries import documents_on

__all__ = ["ExportFilter", "export_documents"]

_CURSOR = "kensho_export"


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which series an export covers; `genre` is a slug, `after` the last id delivered."""

    genre: str | None = None
    kind: str | None = None
    updated_since: datetime | None = None
    after: str | None = None


def _query(flt: ExportFilter) -> tuple[str, list[Any]]:
    where = ["removed_at IS NULL"]
    params: list[Any] = []
    if flt.kind is not None:
        where.append("kind = %s")
        params.append(flt.kind)
    if flt.genre is not None:
        where.append("id IN (SELECT series_id FROM series_genres WHERE genre = %s)")
        params.append(flt.genre)
    if flt.updated_since is not None:
        where.append("updated_at >= %s")
        params.append(flt.updated_since)
    if flt.after is not None:
        where.append("id > %s")
        params.append(flt.after)
    return f"SELECT id FROM series WHERE {' AND '.join(where)} ORDER BY id", params


async def export_documents(
    pool: Any, flt: ExportFilter, *, batch: int, idle_timeout_ms: int
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Anime documents matching `flt`, in id order, `batch` at a time.

    Holds one pooled connection for as long as the iteration runs; `idle_timeout_ms` ends the
    transaction on the server if the consumer stalls that long between two batches (the
    connection is then broken and discarded, never returned mid-transaction). Closing the
    iterator early (client gone) rolls back and frees the connection.
    """
    query, params = _query(flt)
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            await cur.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                (str(int(idle_timeout_ms)),),
            )
            await cur.execute(f"DECLARE {_CURSOR} NO SCROLL CURSOR FOR {query}", params)
            while True:
                await cur.execute(f"FETCH FORWARD {int(batch)} FROM {_CURSOR}")
                ids = [row[0] for row in await cur.fetchall()]
                if not ids:
                    break
                docs = await documents_on(cur, ids)
                yield [docs[i] for i in ids if i in docs]
                if len(ids) < batch:
                    break
            await cur.execute("COMMIT")
        except BaseException:
            if not conn.closed:
                try:
                    await cur.execute("ROLLBACK")
                except Exception:  # a broken connection: the pool discards it
                    conn.close()
            raise
