"""Adding routes: every handler goes in through the envelope, and nothing else answers.

The envelope (request id, errors, metrics, deadline, ...) wraps each route's handler when the
route is added, so routes must be added through `Routes`, never on `app.router` directly. Two
things keep that honest:

- A catch-all route (added by `create_app`, after the app's own routes) answers every request
  no other route matches, inside the envelope: 404, or 405 with `Allow` when the path exists
  for other methods. Without it aiohttp would answer those itself, in plain text.
- At start-up `check_routes` refuses to run an app with a route that bypassed the envelope or a
  root-level route added after the catch-all (which the catch-all would shadow).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kensho.http import keys
from kensho.http.middlewares.base import Handler
from kensho.http.middlewares.envelope import is_enveloped
from kensho.http.route_info import UNMATCHED_NAME, UNMATCHED_ROUTE

__all__ = ["UNMATCHED_NAME", "Routes", "add_unmatched_route", "check_routes"]

_CATCH_ALL = "/{path:.*}"


class Routes:
    """`app.router`'s `add_*` methods, each handler wrapped in the app's envelope."""

    def __init__(self, app: web.Application) -> None:
        self._router = app.router
        self._wrap = app[keys.ENVELOPE].wrap

    def add(self, method: str, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        return self._router.add_route(method, path, self._wrap(handler), **kwargs)

    def get(self, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        """GET (and HEAD, unless `allow_head=False`), as `router.add_get`."""
        return self._router.add_get(path, self._wrap(handler), **kwargs)

    def post(self, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        return self._router.add_post(path, self._wrap(handler), **kwargs)

    def put(self, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        return self._router.add_put(path, self._wrap(handler), **kwargs)

    def patch(self, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        return self._router.add_patch(path, self._wrap(handler), **kwargs)

    def delete(self, path: str, handler: Handler, **kwargs: Any) -> web.AbstractRoute:
        return self._router.add_delete(path, self._wrap(handler), **kwargs)


async def _unmatched(request: web.Request) -> web.StreamResponse:
    """No route matched: 405 with `Allow` if the path exists for other methods, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name == UNMATCHED_NAME:
            continue
        _match, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def add_unmatched_route(app: web.Application) -> None:
    """The catch-all route; add it after the app's routes (it shadows root-level ones)."""
    wrapped = app[keys.ENVELOPE].wrap(_unmatched, template=UNMATCHED_ROUTE)
    app.router.add_route("*", _CATCH_ALL, wrapped, name=UNMATCHED_NAME)


async def check_routes(app: web.Application) -> None:
    """On start-up: every route is enveloped, and no root-level route hides behind the
    catch-all. Raises `RuntimeError` naming the offending route."""
    seen_catch_all = False
    for resource in app.router.resources():
        if resource.name == UNMATCHED_NAME:
            seen_catch_all = True
            continue
        canonical = resource.canonical
        if seen_catch_all and (canonical == "/" or canonical.startswith("/{")):
            raise RuntimeError(
                f"route {canonical} was added after the catch-all route, which shadows it"
            )
        for route in resource:
            if not is_enveloped(route.handler):
                raise RuntimeError(
                    f"route {route.method} {canonical} bypasses the envelope: add it with "
                    "kensho.http.routing.Routes, not app.router"
                )
