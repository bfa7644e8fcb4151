"""Health and metrics routes: liveness, readiness, Prometheus scrape."""

from __future__ import annotations

import orjson
from aiohttp import web

from kensho.http import keys
from kensho.observability.metrics import CONTENT_TYPE_LATEST

__all__ = ["live", "metrics", "ready"]


def _json(body: object, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def live(request: web.Request) -> web.Response:
    """200 while the process runs and the loop ticker is alive and on time.

    The body (status, last loop lag, uptime) is the one the ticker rendered at its last tick
    (every 250 ms): a probe's answer costs no formatting. Cache-Control is the envelope's
    default, no-store.
    """
    status, body = request.app[keys.LOOP_MONITOR].liveness
    return web.Response(body=body, status=status, content_type="application/json")


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
