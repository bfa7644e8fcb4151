"""`POST /admin/breaker`: the operator override of the upstream breaker (`BreakerControl`).

The body is validated here, after the admin check (an unconfigured admin route must answer 404
whatever the body), once: the route is documented with `document_route`, not decorated.
"""

from __future__ import annotations

import marshmallow as ma
import orjson
from aiohttp import web

from kensho.admin.breaker import OverrideMode
from kensho.errors import ServiceUnavailable, ValidationFailed
from kensho.http import admin, keys
from kensho.http.bodies import read_json
from kensho.http.operations import document_route, json_schema
from kensho.http.routing import Routes
from kensho.http.schemas.admin import BreakerOverrideSchema, BreakerStateSchema
from kensho.http.services import need

__all__ = ["add_breaker_routes"]


async def override(request: web.Request) -> web.Response:
    """POST /admin/breaker {"mode": "auto"|"disabled"|"forced_open"} (admin, audited)."""
    admin.authorize_admin(request, "breaker", "breaker")
    body = await read_json(request)
    try:
        data = BreakerOverrideSchema().load(body if isinstance(body, dict) else {"_": body})
    except ma.ValidationError as exc:
        admin.audit_admin(request, "breaker", "breaker", "invalid")
        first = next(iter(exc.messages.items())) if isinstance(exc.messages, dict) else None
        field = str(first[0])[:64] if first else "body"
        raise ValidationFailed.field(field, "mode must be auto, disabled or forced_open") from None
    mode: OverrideMode = data["mode"]
    control = need(request.app, keys.BREAKER, "The upstream breaker")
    try:
        view = await control.override(mode)
    except ServiceUnavailable:
        admin.audit_admin(request, "breaker", f"breaker:{mode}", "error")
        raise
    admin.audit_admin(request, "breaker", f"breaker:{mode}", "ok")
    resp = web.Response(body=orjson.dumps(view.as_dict()), content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_breaker_routes(app: web.Application) -> None:
    Routes(app).post("/admin/breaker", override, name="admin-breaker")
    document_route(
        app,
        "POST",
        "/admin/breaker",
        "Override the upstream circuit breaker",
        inputs=[json_schema(BreakerOverrideSchema, example=BreakerOverrideSchema.example)],
        response=BreakerStateSchema,
        errors=(503,),
        tags=["admin"],
        auth="admin",
    )
