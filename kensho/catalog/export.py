"""`CatalogExport`: the catalog as NDJSON lines, streamed from a server-side cursor.

Each line is `{"cursor": …, "anime": {…}}` and ends with `\\n`; the cursor is signed
(`kensho.signing.CursorCodec`, scoped to the export's filters) and resumes the export right
after that anime. Lines are produced one database batch at a time, only as fast as the caller
takes them, so memory stays bounded by one batch whatever the catalog size and however slow
the client. At most `max_concurrent` exports run at once (each holds a database connection);
one more is refused with 503 rather than queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

import orjson

from kensho.config import Config
from kensho.errors import ServiceUnavailable, ValidationFailed
from kensho.signing import CursorCodec, InvalidCursor, derive_key
from kensho.store.catalog_export import ExportFilter, export_documents

__all__ = ["CatalogExport", "ExportFilter"]


def _scope(flt: ExportFilter) -> str:
    since = flt.updated_since.isoformat() if flt.updated_since is not None else ""
    return f"export|{flt.genre or ''}|{flt.kind or ''}|{since}"


class CatalogExport:
    """Streams anime documents matching an `ExportFilter` as NDJSON line batches."""

    def __init__(
        self,
        pool: Any,
        cursors: CursorCodec,
        *,
        batch: int = 500,
        max_concurrent: int = 2,
        idle_timeout: float = 60.0,
    ) -> None:
        self.pool = pool
        self.cursors = cursors
        self.batch = batch
        self.idle_timeout = idle_timeout
        self.max_concurrent = max_concurrent
        self._slots = asyncio.Semaphore(max_concurrent)
        self.running = 0
        #: anime handed to exports so far (all exports of this process)
        self.streamed = 0
        #: set while no export runs (operators and tests wait on it)
        self.idle = asyncio.Event()
        self.idle.set()

    @classmethod
    def from_config(cls, config: Config, pool: Any) -> CatalogExport:
        return cls(
            pool,
            CursorCodec(derive_key(config, "export-cursor")),
            batch=config.export_batch,
            max_concurrent=config.export_max_concurrent,
            idle_timeout=config.export_idle_timeout,
        )

    def resume_after(self, flt: ExportFilter, cursor: str) -> ExportFilter:
        """`flt` continued after the anime `cursor` names; 400 if it is not this export's."""
        try:
            last = self.cursors.decode(_scope(flt), cursor)
        except InvalidCursor as exc:
            raise ValidationFailed.field("cursor", str(exc), status=400) from None
        if not isinstance(last, str) or not last:
            raise ValidationFailed.field("cursor", "malformed cursor", status=400)
        return replace(flt, after=last)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the `max_concurrent` export slots, or 503 at once when all are taken."""
        if self._slots.locked():
            raise ServiceUnavailable(
                f"{self.max_concurrent} exports are running; retry later.", retry_after=30
            )
        async with self._slots:
            self.running += 1
            self.idle.clear()
            try:
                yield
            finally:
                self.running -= 1
                if not self.running:
                    self.idle.set()

    async def lines(self, flt: ExportFilter) -> AsyncGenerator[bytes, None]:
        """NDJSON, one chunk per database batch (hold a `slot()` while iterating)."""
        scope = _scope(flt)
        encode = self.cursors.encode
        documents = export_documents(
            self.pool, flt, batch=self.batch, idle_timeout_ms=int(self.idle_timeout * 1000)
        )
        async with contextlib.aclosing(documents):
            async for docs in documents:
                self.streamed += len(docs)
                yield b"".join(
                    orjson.dumps(
                        {"cursor": encode(scope, doc["id"]), "anime": doc},
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                    for doc in docs
                )
