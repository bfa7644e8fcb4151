"""Health and metrics routes: liveness, readiness, Prometheus scrape."""

from __future__ import annotations

import orjson
from aiohttp import web

from kensho.http import keys
from kensho.observability.metrics import CONTENT_TYPE_LATEST

__all__ = ["LIVE_MAX_LAG", "live", "metrics", "ready"]

#: A loop that woke this late has been blocked; liveness fails so the orchestrator can act.
LIVE_MAX_LAG = 5.0


def _json(body: object, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def live(request: web.Request) -> web.Response:
    """200 while the process runs and the loop ticker is alive and on time."""
    app = request.app
    monitor = app[keys.LOOP_MONITOR]
    ok = monitor.running and monitor.last_lag < LIVE_MAX_LAG
    return _json(
        {
            "status": "ok" if ok else "failing",
            "loop_lag_ms": round(monitor.last_lag * 1000, 3),
            "uptime_s": round(app[keys.LIFECYCLE].uptime(), 3),
        },
        200 if ok else 503,
    )


async def ready(request: web.Request) -> web.Response:
    """Per-dependency status and latency; 503 if a required one fails or we are draining."""
    app = request.app
    if app[keys.LIFECYCLE].draining:
        return _json({"status": "shutting_down", "checks": {}}, 503)
    report = await app[keys.READINESS].evaluate()
    return _json(
        {"status": report.status, "checks": {c.name: c.as_dict() for c in report.checks}},
        200 if report.ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this app's registry."""
    body = request.app[keys.METRICS].render()
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    resp.headers["Cache-Control"] = "no-store"
    return resp
