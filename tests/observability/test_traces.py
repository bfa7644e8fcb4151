"""Traces as an operator sees them: a real `kensho serve` exporting to an OTLP/HTTP receiver.

One login, one stream request and one uncached anime read each make one trace whose spans form
a tree under the request's server span: the actor message, the upstream call (and, below it,
the in-process simulator's own server span, reached through `traceparent`), PostgreSQL
statements and Redis commands. Probes and /metrics make none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from auth.kit import DEMO, bearer, episodes
from jobs.conftest import FakeSource
from jobs.test_catalog_sync import _sync
from serverproc import read_log, server_env, start_server, wait_for_port

from kensho.catalog import load_catalog
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool, fetch_one
from observability.otlp import Receiver, Span, otlp_receiver

pytestmark = pytest.mark.timeout(240)


def _db(span: Span) -> str | None:
    value = span.attributes.get("db.system.name", span.attributes.get("db.system"))
    return None if value is None else str(value)


def _request_trace(spans: list[Span], request_id: str) -> list[Span] | None:
    """The trace of the request `request_id` once its server span (the root) is exported."""
    root = next((s for s in spans if s.attributes.get("kensho.request_id") == request_id), None)
    if root is None:
        return None
    return [s for s in spans if s.trace_id == root.trace_id]


def _tree(trace: list[Span], request_id: str) -> tuple[Span, dict[str, Span]]:
    """Assert `trace` is one tree under the request's server span; return (root, by id)."""
    by_id = {s.span_id: s for s in trace}
    assert len(by_id) == len(trace), "span ids are unique"
    (root,) = [s for s in trace if s.parent_id not in by_id]
    assert root.kind == "server" and root.attributes["kensho.request_id"] == request_id
    assert root.parent_id == "", "the request started the trace"
    assert {s.trace_id for s in trace} == {root.trace_id}
    return root, by_id


def _children(trace: list[Span], parent: Span) -> list[Span]:
    return [s for s in trace if s.parent_id == parent.span_id]


def _upstream_call(trace: list[Span], under: Span) -> Span:
    """An upstream client span under `under`, with the simulator's server span below it."""
    clients = [
        s
        for s in _children(trace, under)
        if s.kind == "client" and "http.request.method" in s.attributes
    ]
    assert clients, f"no upstream client span under {under.name}: {_names(trace)}"
    for client in clients:
        assert client.attributes["url.full"].startswith("http://127.0.0.1:")
        served = [s for s in _children(trace, client) if s.kind == "server"]
        assert served, f"the simulator did not continue the trace under {client.name}"
    return clients[0]


@contextlib.asynccontextmanager
async def _server(tmp_path: Path, receiver: Receiver, **settings: str) -> AsyncIterator[str]:
    env = server_env(
        tmp_path,
        **{
            "KENSHO_OTEL_ENDPOINT": receiver.url,
            "KENSHO_PRESTOP_DELAY": "0",
            "KENSHO_CATALOG_WARM_COUNT": "0",  # every anime read is a cache miss (by default)
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # export every 50 ms instead of every 5 s
            "OTEL_BSP_MAX_QUEUE_SIZE": "1000000",  # the sync's spans must not crowd ours out
        }
        | settings,
    )
    log = tmp_path / "server.log"
    proc = await start_server(log, env)
    try:
        port = await wait_for_port(log, proc, seconds=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)
        assert proc.returncode == 0, read_log(log)[-3000:]


async def _first_anime(db_pool: Any, seconds: float = 120) -> str:
    """The id of an anime the catalog sync has written (its first page is enough)."""
    async with asyncio.timeout(seconds):
        while True:
            row = await fetch_one(db_pool, "SELECT id FROM series ORDER BY id LIMIT 1")
            if row is not None:
                return str(row[0])
            await asyncio.sleep(0.2)


async def test_login_stream_and_uncached_read_each_make_one_trace(
    tmp_path: Path, database_url: str, redis_url: str, db_pool: Any
) -> None:
    free_episode = episodes()[0]
    async with (
        otlp_receiver() as receiver,
        _server(
            tmp_path, receiver, KENSHO_DATABASE_URL=database_url, KENSHO_REDIS_URL=redis_url
        ) as base,
        aiohttp.ClientSession(base) as http,
    ):
        anime_id = await _first_anime(db_pool)
        for path in ("/health/live", "/health/ready", "/metrics"):
            async with http.get(path, headers={"X-Request-ID": f"probe{path}"}) as resp:
                assert resp.status in (200, 503)  # not ready while the catalog loads
        async with http.post(
            "/api/auth/login",
            json={"username": DEMO[0], "password": DEMO[1]},
            headers={"X-Request-ID": "trace-login"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        async with http.get(
            f"/api/episodes/{free_episode}/stream",
            headers={**bearer(token), "X-Request-ID": "trace-stream"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(
            f"/api/anime/{anime_id}", headers={"X-Request-ID": "trace-anime"}
        ) as resp:
            assert resp.status == 200, await resp.text()

        traces: dict[str, list[Span]] = {}
        for rid in ("trace-login", "trace-stream", "trace-anime"):
            traces[rid] = await receiver.wait_for(lambda spans, r=rid: _request_trace(spans, r))

        # Login: the limiter (Redis), the upstream password grant (→ the simulator), the
        # session pool actor, the session row (PostgreSQL).
        login = traces["trace-login"]
        root, _ = _tree(login, "trace-login")
        assert root.name == "POST /api/auth/login"
        assert root.attributes["http.response.status_code"] == 200
        _upstream_call(login, root)
        (actor,) = [s for s in _children(login, root) if s.name == "session_pool CreateSession"]
        assert actor.kind == "consumer"
        assert actor.attributes["messaging.destination.name"] == "session_pool"
        assert actor.attributes["kensho.actor.mailbox_wait_ms"] >= 0
        assert any(_db(s) == "postgresql" for s in _children(login, root)), login
        assert any(_db(s) == "redis" for s in _children(login, root)), login

        # The stream: the session lookup goes through the session pool actor, the playback
        # call to the simulator.
        stream = traces["trace-stream"]
        root, _ = _tree(stream, "trace-stream")
        assert root.name == "GET /api/episodes/{id}/stream"
        assert any(s.kind == "consumer" for s in _children(stream, root)), stream
        _upstream_call(stream, root)

        # The uncached read: a Redis miss, then PostgreSQL.
        anime = traces["trace-anime"]
        root, _ = _tree(anime, "trace-anime")
        assert root.name == "GET /api/anime/{id}"
        assert any(_db(s) == "redis" for s in _children(anime, root)), anime
        assert any(_db(s) == "postgresql" for s in _children(anime, root)), anime

        # Probes and scrapes: no span at all (the requests above were exported after them).
        traced_paths = {str(s.attributes.get("url.path")) for s in receiver.spans}
        assert not {p for p in traced_paths if p.startswith(("/health/", "/metrics"))}
        assert not [s for s in receiver.spans if "probe" in str(s.attributes)]


def _names(trace: list[Span]) -> Any:
    return sorted((s.kind, s.name) for s in trace)


async def _seeded_database(make_database: Callable[[], str]) -> str:
    """A fresh database holding a small synced catalog: the server starts without a sync (the
    catalog is loaded and fresh), so an operator's trigger starts one at once."""
    dsn = make_database()
    pool = await create_pool(dsn, minsize=1, maxsize=2)
    try:
        await migrate(pool)
        result = await _sync(pool, FakeSource(load_catalog().entries[:5])).run()
        assert result.complete
    finally:
        pool.close()
        await pool.wait_closed()
    return dsn


def _ends_with_its_answer(trace: list[Span], request_id: str) -> None:
    """Nothing the admin request started goes on in its trace after it answered."""
    root, _ = _tree(trace, request_id)
    late = sorted({s.name for s in trace if s.end_ns > root.end_ns})
    assert not late, f"spans of {request_id} ending after its answer: {late}"


async def test_admin_triggered_jobs_are_root_traces_linked_to_the_request(
    tmp_path: Path, make_database: Callable[[], str], redis_url: str
) -> None:
    """An operator's actor restart and catalog sync: the admin request's trace ends with its
    answer; the search index build and the sync run they started are traces of their own,
    linked to it (lease renewals, every second here, stay in the run's trace)."""
    admin = {"Authorization": "Bearer admin-secret"}
    database_url = await _seeded_database(make_database)
    async with otlp_receiver() as receiver:
        async with (
            _server(
                tmp_path,
                receiver,
                KENSHO_DATABASE_URL=database_url,
                KENSHO_REDIS_URL=redis_url,
                KENSHO_ADMIN_TOKEN="admin-secret",
                KENSHO_CATALOG_SYNC_LEASE_TTL="3",
            ) as base,
            aiohttp.ClientSession(base) as http,
        ):
            async with http.post(
                "/admin/actors/search/restart", headers={**admin, "X-Request-ID": "trace-restart"}
            ) as resp:
                assert resp.status == 202, await resp.text()
            async with http.post(
                "/admin/catalog/sync", headers={**admin, "X-Request-ID": "trace-sync"}
            ) as resp:
                assert resp.status == 202, await resp.text()
                run_id = (await resp.json())["run_id"]
            restart = await receiver.wait_for(lambda s: _request_trace(s, "trace-restart"))
            (warm_up,) = await receiver.wait_for(
                lambda spans: [
                    s for s in spans
                    if s.name == "search warm_up" and s.links == (restart[0].trace_id,)
                ]
            )  # fmt: skip
            # Pages of the run, and more than one lease renewal (the TTL is 3 s), then stop
            # the server: the run, cancelled, ends and is exported at shutdown.
            await receiver.wait_for(lambda spans: len(_renewals(spans, run_id)) >= 2, timeout=60)
        sync = _request_trace(receiver.spans, "trace-sync")
        (run,) = [
            s for s in receiver.spans
            if s.name == "catalog_sync run" and s.attributes.get("kensho.job.run_id") == run_id
        ]  # fmt: skip

    _ends_with_its_answer(restart, "trace-restart")
    assert warm_up.parent_id == "" and warm_up.trace_id != restart[0].trace_id
    assert sync is not None
    _ends_with_its_answer(sync, "trace-sync")
    assert run.parent_id == "" and run.links == (sync[0].trace_id,)
    assert run.trace_id != sync[0].trace_id


def _renewals(spans: list[Span], run_id: str) -> list[Span]:
    """The lease renewals of run `run_id` (statements updating the lease, in the run's trace,
    which the pages link to)."""
    runs = {
        link
        for s in spans
        if s.name == "catalog_sync page" and s.attributes.get("kensho.job.run_id") == run_id
        for link in s.links
    }
    return [
        s for s in spans
        if s.trace_id in runs and "leases" in str(s.attributes.get("db.query.text", ""))
    ]  # fmt: skip
