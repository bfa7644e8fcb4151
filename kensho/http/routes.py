"""Route table of the foundation: health, metrics and admin. Named, for `url_for`."""

from __future__ import annotations

from aiohttp import web

from kensho.http import admin, health

__all__ = ["add_foundation_routes"]


def add_foundation_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/health/live", health.live, name="health-live", allow_head=True)
    r.add_get("/health/ready", health.ready, name="health-ready", allow_head=True)
    r.add_get("/metrics", health.metrics, name="metrics")
    r.add_get("/admin/actors", admin.actors, name="admin-actors")
    r.add_get("/admin/actors/{name}", admin.actor, name="admin-actor")
    r.add_post("/admin/actors/{name}/restart", admin.restart, name="admin-actor-restart")
