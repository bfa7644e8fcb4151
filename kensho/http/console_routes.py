"""Operator console routes: `GET /admin/events` (the live feed) and `POST /admin/catalog/sync`.

The feed is Server-Sent Events (`aiohttp-sse`): a `state` event at once and then every
`console_feed.TICK` seconds, with the supervision tree, the breaker, the catalog sync, the
players' bandwidth and the feature flags; a comment line every 15 s keeps idle proxies from
closing the stream. The handler only waits on its subscription queue, so it never blocks the
loop; a client that goes away makes the next write fail, which ends the handler and drops the
subscription. At graceful
shutdown (`on_shutdown`, before aiohttp waits for in-flight requests) every stream gets a
`shutdown` event and ends, so an open console never holds the drain up. Admin-token protected
and audited (the subscription, not each event).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp_sse import EventSourceResponse

from kensho.errors import Conflict, ServiceUnavailable
from kensho.http import admin, keys
from kensho.http.console_feed import ConsoleFeed
from kensho.http.middlewares.timeout import deadline
from kensho.http.operations import document_route
from kensho.http.routing import Routes
from kensho.http.schemas.console import SyncReportSchema, SyncTriggerSchema
from kensho.jobs.sync_schedule import CatalogSyncJob, Held

__all__ = ["add_console_routes", "console_state"]

#: Comment lines keep proxies and the browser from timing an idle stream out.
PING_SECONDS = 15.0
#: A client that does not read for this long is cut off (its socket buffers are full).
SEND_TIMEOUT = 30.0


def _sync_status(app: web.Application) -> dict[str, Any] | None:
    job = app.get(keys.CATALOG_SYNC)
    if job is None:
        return None
    status = job.status
    return {
        "loaded": status.loaded,
        "series_count": status.series_count,
        "running": status.running,
        "progress": status.progress,
        "pages_done": status.pages_done,
        "last_run": status.last_run.isoformat() if status.last_run else None,
        "last_result": status.last_result,
        "last_error": status.last_error,
    }


def _breaker(app: web.Application) -> dict[str, Any] | None:
    control = app.get(keys.BREAKER)
    view = control.view() if control is not None else None
    if view is None:
        return None
    config = app[keys.CONFIG]
    return {
        **view.as_dict(),
        "window_size": config.breaker_window_size,
        "minimum_calls": min(config.breaker_minimum_calls, config.breaker_window_size),
        "failure_threshold": config.breaker_failure_rate / 100,
        "transitions_by": [
            {"from": before, "to": after, "count": count}
            for (before, after), count in sorted(view.transitions.items())
        ],
    }


def console_state(app: web.Application) -> dict[str, Any]:
    """Everything the console shows live; cheap (no I/O, no mailbox round trip)."""
    lifecycle = app[keys.LIFECYCLE]
    sup = app.get(keys.SUPERVISOR)
    bandwidth = app.get(keys.BANDWIDTH)
    flags = app.get(keys.FLAGS)
    return {
        "at": time.time(),
        "draining": lifecycle.draining,
        "uptime_s": round(lifecycle.uptime(), 3),
        "in_flight": lifecycle.in_flight,
        "loop_lag_ms": round(app[keys.LOOP_MONITOR].last_lag * 1000, 3),
        "tree": sup.snapshot() if sup is not None else None,
        "breaker": _breaker(app),
        "sync": _sync_status(app),
        "bandwidth": bandwidth.view() if bandwidth is not None else None,
        "flags": flags.describe_all() if flags is not None else None,
    }


@deadline(None)  # a stream lasts as long as the console is open
async def events(request: web.Request) -> web.StreamResponse:
    """GET /admin/events: the console's live feed (text/event-stream)."""
    admin.authorize_admin(request, "events", "*")
    feed = request.app[keys.CONSOLE_FEED]
    if feed.closed:
        raise ServiceUnavailable("The server is shutting down.", retry_after=1)
    admin.audit_admin(request, "events", "*", "ok")
    sse = EventSourceResponse(ping_interval=PING_SECONDS, send_timeout=SEND_TIMEOUT)
    sse.headers["Cache-Control"] = "no-store"  # admin data: never in a cache
    await sse.prepare(request)
    try:
        async with sse, feed.subscribe() as queue:
            while True:
                data = await queue.get()
                if data is None:
                    await sse.send("{}", event="shutdown")
                    break
                await sse.send(data.decode(), event="state")
    except (ConnectionResetError, TimeoutError):
        pass  # the console went away (or stopped reading): its subscription is gone
    return sse


async def sync_report(request: web.Request) -> web.Response:
    """GET /admin/catalog/sync: who syncs the catalog (fleet-wide) and the newest run."""
    admin.authorize_admin(request, "catalog-sync-status", "catalog")
    body = await _sync_job(request).report()
    admin.audit_admin(request, "catalog-sync-status", "catalog", "ok")
    return _json(body, 200)


async def trigger_sync(request: web.Request) -> web.Response:
    """POST /admin/catalog/sync: start a catalog sync now on this replica (admin, audited).

    202 with the run id when this replica took the fleet's sync lease; 409 naming the holder
    when a run holds it (on another replica, or this one).
    """
    admin.authorize_admin(request, "catalog-sync", "catalog")
    job = _sync_job(request)
    try:
        outcome = await job.run_now()
    except ServiceUnavailable:
        admin.audit_admin(request, "catalog-sync", "catalog", "unavailable")
        raise
    if isinstance(outcome, Held):
        admin.audit_admin(request, "catalog-sync", "catalog", "conflict")
        where = "this replica" if outcome.holder == job.holder else f"replica {outcome.holder}"
        raise Conflict(
            f"A catalog sync is already running on {where}.",
            extra={
                "holder": outcome.holder,
                "lease_expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None,
            },
        )
    admin.audit_admin(request, "catalog-sync", f"catalog run {outcome.run_id}", "ok")
    body = {"started": True, "run_id": outcome.run_id, "holder": job.holder}
    body["sync"] = _sync_status(request.app)
    return _json(body, 202)


def _sync_job(request: web.Request) -> CatalogSyncJob:
    job = request.app.get(keys.CATALOG_SYNC)
    if job is None:
        raise ServiceUnavailable("The catalog sync job is not running.", retry_after=5)
    return job


def _json(body: Any, status: int) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"  # admin data: never in a cache
    return resp


def add_console_routes(app: web.Application) -> None:
    """The feed (one per app, closed at shutdown) and the console's admin routes."""
    feed = ConsoleFeed(lambda: console_state(app))
    app[keys.CONSOLE_FEED] = feed

    async def close_feed(_app: web.Application) -> None:
        await feed.close()

    app.on_shutdown.append(close_feed)
    r = Routes(app)
    r.get("/admin/events", events, name="admin-events", allow_head=False)
    r.get("/admin/catalog/sync", sync_report, name="admin-catalog-sync-status")
    r.post("/admin/catalog/sync", trigger_sync, name="admin-catalog-sync")
    admin_docs: dict[str, Any] = {"tags": ["admin"], "auth": "admin"}
    document_route(
        app,
        "GET",
        "/admin/events",
        "Live console feed (Server-Sent Events)",
        content_type="text/event-stream",
        response={"type": "string"},
        example='event: state\ndata: {"at": 1764446400.0, "draining": false, "tree": {...}}\n\n',
        description="A `state` event at once and then every 0.5 s; its data is a JSON "
        "object: `tree` (as `GET /admin/actors`), `breaker` (state, rates, window, transitions), "
        "`sync` (catalog sync status), `bandwidth` (as `GET /admin/streams/bandwidth`), "
        "`flags` (as `GET /admin/flags`), "
        "`draining`, `uptime_s`, `in_flight`, `loop_lag_ms`. A `shutdown` event ends the "
        "stream when the server drains; `: ping` comment lines come every 15 s. The stream "
        "has no deadline.",
        errors=(503,),
        **admin_docs,
    )
    document_route(
        app,
        "GET",
        "/admin/catalog/sync",
        "The fleet's catalog sync: lease holder and newest run",
        response=SyncReportSchema,
        description="`running` and `holder` are fleet-wide (the sync lease in PostgreSQL); "
        "`last_run` is the newest attempt, the one in progress included.",
        errors=(503,),
        **admin_docs,
    )
    document_route(
        app,
        "POST",
        "/admin/catalog/sync",
        "Start a catalog sync now",
        response=SyncTriggerSchema,
        status=202,
        description="202 when this replica took the fleet's sync lease (the run id is an "
        "interrupted run's, resumed, or a new one); 409 problem+json naming the `holder` when "
        "a run holds the lease.",
        errors=(409, 503),
        **admin_docs,
    )
