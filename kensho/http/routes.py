"""Route table of the foundation: health, metrics and the actor admin routes, with their docs.

Named, for `url_for`. Their handlers carry no docs of their own, so each is described here,
next to the route, with `document_route`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kensho.http import admin, health
from kensho.http import schemas as s
from kensho.http.operations import document_route
from kensho.http.routing import Routes

__all__ = ["add_foundation_routes"]


def add_foundation_routes(app: web.Application) -> None:
    r = Routes(app)
    r.get("/health/live", health.live, name="health-live", allow_head=True)
    r.get("/health/ready", health.ready, name="health-ready", allow_head=True)
    r.get("/metrics", health.metrics, name="metrics")
    r.get("/admin/actors", admin.actors, name="admin-actors")
    r.get("/admin/actors/{name}", admin.actor, name="admin-actor")
    r.post("/admin/actors/{name}/restart", admin.restart, name="admin-actor-restart")
    _document(app)


def _document(app: web.Application) -> None:
    document_route(
        app,
        "GET",
        "/health/live",
        "Liveness: the process runs and its event loop answers",
        tags=["health"],
        response=s.HealthLiveSchema,
        also={
            503: (
                s.HealthLiveSchema,
                "the event loop is stalled",
                {"status": "failing", "loop_lag_ms": 5210.0, "uptime_s": 86400.0},
            )
        },
    )
    document_route(
        app,
        "GET",
        "/health/ready",
        "Readiness: each dependency's status and latency",
        tags=["health"],
        response=s.HealthReadySchema,
        also={
            503: (
                s.HealthReadySchema,
                "a required dependency fails, or the server drains",
                {"status": "shutting_down", "checks": {}},
            )
        },
    )
    document_route(
        app,
        "GET",
        "/metrics",
        "Prometheus metrics (text exposition format)",
        tags=["operations"],
        content_type="text/plain",
        response={"type": "string"},
        example="# TYPE request_duration_seconds histogram\n"
        'request_duration_seconds_bucket{route="/health/live",method="GET",status="200",'
        'le="0.005"} 3\n',
    )
    admin_kw: dict[str, Any] = {"tags": ["admin"], "auth": "admin", "errors": (503,)}
    document_route(
        app,
        "GET",
        "/admin/actors",
        "The supervision tree with every actor's statistics",
        response=s.ActorTreeSchema,
        **admin_kw,
    )
    document_route(
        app,
        "GET",
        "/admin/actors/{name}",
        "One actor or supervisor node",
        response=s.ActorNodeSchema,
        **admin_kw,
    )
    document_route(
        app,
        "POST",
        "/admin/actors/{name}/restart",
        "Restart one actor through its supervisor",
        response=s.RestartResponseSchema,
        status=202,
        **admin_kw,
    )
