"""The search actor: owns the in-memory index, builds it on its own thread, publishes it.

Data path (ARCHITECTURE rules 2 and 3): the actor reads the catalog with a short-lived,
blocking psycopg2 connection of its own, on its own thread (`load_search_rows_blocking`), so
it never shares a socket with the event loop and the loop does no work for a build. It builds
a `SearchIndex` aside and then publishes a new immutable `SearchView`; handlers read the view
directly and keep being served from the old one while a rebuild runs. An empty catalog (before
the first sync) or an unreachable database at start falls back to the bundled catalog.

Start: the first build runs in `warm_up`, after the supervisor's start barrier, so the server
becomes ready at once instead of waiting 1-5 s (longer on a loaded host) inside the start
timeout. Until the first view is published search answers 503 with `Retry-After`; a bundle
index to serve meanwhile would cost as much to build as the real one. A restarted actor
rebuilds the same way, and handlers keep the previous view meanwhile (`SearchService`).

The view (`kensho.search.view`) and the messages (`kensho.search.protocol`) belong to the
search domain: this actor depends on them, `kensho.search` never imports an actor.

Cursor key (`cursor_key_for`): cursors must verify on every replica and after every restart;
the key comes from `kensho.signing.derive_key`, shared with the catalog's list cursors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kensho.actors.base import KenshoActor
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config
from kensho.errors import ActorStopped, ServiceUnavailable
from kensho.search import BuildCancelled
from kensho.search.loading import load_cancellable
from kensho.search.protocol import BuildInfo, Published, Rebuild
from kensho.search.view import SearchView, build_view, rows_from_bundle
from kensho.signing import derive_key
from kensho.store.search_queries import CatalogSearchRow, load_search_rows_blocking

__all__ = ["SearchActor", "child_spec", "cursor_key_for"]

log = logging.getLogger(__name__)

RowLoader = Callable[[], Sequence[CatalogSearchRow]]


def cursor_key_for(config: Config) -> bytes:
    """The search cursor signing key (`kensho.signing`: one secret for every cursor)."""
    return derive_key(config, "search-cursor")


class SearchActor(KenshoActor):
    """Owns the search index: builds on start and on `Rebuild`, publishes `SearchView`s."""

    def __init__(
        self,
        config: Config,
        *,
        database_url: str | Callable[[], str | None] | None = None,
        load_rows: RowLoader | None = None,
        cursor_key: bytes | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._dsn = database_url if database_url is not None else config.database_url
        self._load_rows = load_rows
        self._cursor_key = cursor_key
        self._last_started = float("-inf")
        self._builds = 0
        self._failures = 0
        self._building = threading.Event()
        self._last_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def setup(self) -> None:
        if self._cursor_key is None:
            self._cursor_key = cursor_key_for(self.config)

    def warm_up(self) -> None:
        try:
            try:
                self._build("start")
            except BuildCancelled:
                raise
            except Exception as exc:  # the database is down: serve the bundle, not nothing
                log.warning("search: catalog unavailable at start (%r); indexing the bundle", exc)
                rows = self._load(rows_from_bundle, "the bundle")
                self._build("start", rows=rows, source="bundle")
        except BuildCancelled:
            return  # stopping: the stop message is next

    def handle(self, message: Any) -> Any:
        if isinstance(message, Rebuild):
            if message.requested_at < self._last_started and self.view is not None:
                return self._info(rebuilt=False)
            try:
                return self._build(message.reason)
            except BuildCancelled:
                raise ActorStopped("search is stopping; the rebuild was abandoned") from None
        if isinstance(message, Published):
            if self.view is None:
                raise ServiceUnavailable("The search index is not built.", retry_after=1)
            return self._info(rebuilt=False)
        return super().handle(message)

    # -- building -----------------------------------------------------------------------------
    def _rows(self) -> list[CatalogSearchRow]:
        if self._load_rows is not None:
            return list(self._load_rows())
        dsn = self._dsn() if callable(self._dsn) else self._dsn
        return load_search_rows_blocking(dsn) if dsn else []

    def _load(
        self, load: Callable[[], list[CatalogSearchRow]], what: str
    ) -> list[CatalogSearchRow]:
        """Rows from a blocking load that a stop does not wait for (kensho.search.loading)."""
        return load_cancellable(load, self.stop_requested.is_set, what)

    def _build(
        self, reason: str, *, rows: Sequence[CatalogSearchRow] | None = None, source: str = ""
    ) -> BuildInfo:
        self._last_started = time.monotonic()
        self._building.set()
        try:
            if rows is None:
                rows, source = self._load(self._rows, "the catalog rows"), "database"
                if not rows:
                    rows, source = self._load(rows_from_bundle, "the bundle"), "bundle"
            assert self._cursor_key is not None
            view = build_view(
                rows,
                cursor_key=self._cursor_key,
                source=source,
                cancelled=self.stop_requested.is_set,
            )
        except BuildCancelled:
            log.info("search: index build (%s) cancelled: the actor is stopping", reason)
            raise
        except Exception as exc:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            self._building.clear()
        self.publish(view)  # one reference swap: readers see the old or the new, never half
        self._builds += 1
        log.info(
            "search: index built (%s, %s): %d entries in %.2f s",
            reason,
            view.source,
            len(view.index),
            view.build_seconds,
        )
        return self._info(rebuilt=True)

    def _info(self, *, rebuilt: bool) -> BuildInfo:
        view: SearchView = self.view
        return BuildInfo(
            version=view.index.version,
            entries=len(view.index),
            source=view.source,
            seconds=view.build_seconds,
            rebuilt=rebuilt,
        )

    def summary(self) -> dict[str, Any]:
        view: SearchView | None = self.view
        out: dict[str, Any] = {
            "builds": self._builds,
            "build_failures": self._failures,
            "building": self._building.is_set(),
            "last_error": self._last_error,
        }
        if view is not None:
            out.update(
                version=view.index.version,
                entries=len(view.index),
                titles=view.index.title_count,
                source=view.source,
                last_build_seconds=round(view.build_seconds, 3),
                built_at=view.built_at,
            )
        return out


def child_spec(config: Config, name: str = "search", **deps: Any) -> ChildSpec:
    """The supervised search actor. `deps` go to `SearchActor`: `database_url` (a DSN or a
    callable returning one, e.g. the embedded server's), `load_rows`, `cursor_key`."""
    return ChildSpec(
        name, lambda: SearchActor(config, **deps), restart="permanent", shutdown_timeout=5.0
    )
