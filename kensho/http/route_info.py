"""The route template of a request: the only path form safe to use as a label or span name."""

from __future__ import annotations

from aiohttp import web

from kensho.observability.metrics import UNMATCHED_ROUTE

__all__ = ["UNMATCHED_ROUTE", "route_template"]


def route_template(request: web.BaseRequest) -> str:
    """`/admin/actors/{name}` for a matched route, a fixed label for anything else."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None:
        return UNMATCHED_ROUTE
    return str(resource.canonical)
