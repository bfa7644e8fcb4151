"""The route template of a request: the only path form safe to use as a label or span name."""

from __future__ import annotations

from aiohttp import web

from kensho.observability.metrics import UNMATCHED_ROUTE

__all__ = ["UNMATCHED_NAME", "UNMATCHED_ROUTE", "route_template"]

#: Name of the catch-all route that answers unmatched requests (`kensho.http.routing`).
UNMATCHED_NAME = "kensho-unmatched"


def route_template(request: web.BaseRequest) -> str:
    """`/admin/actors/{name}` for a matched route, a fixed label for anything else."""
    try:
        match_info = request.match_info  # type: ignore[attr-defined]
    except (AttributeError, AssertionError):  # a BaseRequest, or one refused before routing
        return UNMATCHED_ROUTE
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or resource.name == UNMATCHED_NAME:
        return UNMATCHED_ROUTE
    return str(resource.canonical)
