"""Admin routes: the supervision tree, one actor, restart. Bearer-token protected and audited.

No token configured means the routes do not exist (404), so an unconfigured deployment does not
even reveal them; a wrong or missing token is a 401 with `WWW-Authenticate`.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import orjson
from aiohttp import web

from kensho.errors import NotFound, ServiceUnavailable, Unauthorized
from kensho.http import keys
from kensho.http.supervision import SupervisorLike, find_node

__all__ = ["actor", "actors", "audit_admin", "authorize_admin", "restart"]

audit_log = logging.getLogger("kensho.audit")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kensho-admin"'}
_MAX_NAME = 128


def audit_admin(request: web.Request, action: str, target: str, outcome: str) -> None:
    audit_log.info(
        "admin %s %s: %s",
        action,
        target,
        outcome,
        extra={
            "event": "audit",
            "actor": "admin-token" if outcome != "denied" else "anonymous",
            "action": action,
            "target": target[:_MAX_NAME],
            "client": request.remote,
            "outcome": outcome,
            "request_id": request.get(keys.REQUEST_ID),
        },
    )


def authorize_admin(request: web.Request, action: str, target: str) -> None:
    token = request.app[keys.CONFIG].admin_token
    if not token:
        raise NotFound("No resource lives at this path.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode("utf-8")
    )
    if not ok:
        audit_admin(request, action, target, "denied")
        raise Unauthorized("A valid admin bearer token is required.", headers=_CHALLENGE)


def _supervisor(request: web.Request) -> SupervisorLike:
    sup = request.app.get(keys.SUPERVISOR)
    if sup is None:
        raise ServiceUnavailable("The actor system is not running.")
    return sup


def _json(body: Any, status: int = 200) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def actors(request: web.Request) -> web.Response:
    """GET /admin/actors: the whole supervision tree with each actor's statistics."""
    authorize_admin(request, "list", "*")
    tree = _supervisor(request).snapshot()
    audit_admin(request, "list", "*", "ok")
    # Under `--workers N` each process has its own tree: say whose this is.
    return _json({"tree": tree, "worker": request.app[keys.LIFECYCLE].worker.describe()})


async def actor(request: web.Request) -> web.Response:
    """GET /admin/actors/{name}: one actor (or supervisor) node."""
    name = request.match_info["name"]
    authorize_admin(request, "inspect", name)
    node = find_node(_supervisor(request).snapshot(), name) if len(name) <= _MAX_NAME else None
    if node is None:
        audit_admin(request, "inspect", name, "not_found")
        raise NotFound("No actor has this name.")
    audit_admin(request, "inspect", name, "ok")
    return _json(node)


async def restart(request: web.Request) -> web.Response:
    """POST /admin/actors/{name}/restart: restart one child through its supervisor."""
    name = request.match_info["name"]
    authorize_admin(request, "restart", name)
    sup = _supervisor(request)
    if len(name) > _MAX_NAME or find_node(sup.snapshot(), name) is None:
        audit_admin(request, "restart", name, "not_found")
        raise NotFound("No actor has this name.")
    try:
        await sup.restart_child(name)
    except (KeyError, NotFound):
        audit_admin(request, "restart", name, "not_found")
        raise NotFound("No actor has this name.") from None
    except Exception:
        audit_admin(request, "restart", name, "error")
        raise
    audit_admin(request, "restart", name, "ok")
    return _json({"restarted": name, "actor": find_node(sup.snapshot(), name)}, 202)
