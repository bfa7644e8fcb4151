"""Route table of the foundation: health, metrics and admin. Named, for `url_for`."""

from __future__ import annotations

from aiohttp import web

from kensho.http import admin, health
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
