"""Feature flags for operators: `GET /admin/flags`, `PUT` and `DELETE /admin/flags/{key}`.

A PUT stores the flag's setting for the whole fleet (Redis; every replica follows within a
second, `kensho.flags.sync`); a DELETE drops that override, so the configured setting
(`KENSHO_FLAGS`) applies again everywhere. Admin-token protected and audited like every admin
action; bodies are validated by `kensho.flags.parse_setting` after the admin check (an
unconfigured admin route answers 404 whatever the body), with a small size cap of their own.
Without Redis a change could reach only this replica, so it is refused (503).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from kensho.errors import NotFound, ServiceUnavailable, ValidationFailed
from kensho.flags import FeatureFlags, FlagInputError, RedisUnavailable, parse_setting
from kensho.http import admin, keys
from kensho.http.bearer import client_id
from kensho.http.bodies import read_json
from kensho.http.operations import document_route, json_schema
from kensho.http.routing import Routes
from kensho.http.schemas.flags import FlagListSchema, FlagSchema, FlagSettingSchema
from kensho.http.services import need

__all__ = ["MAX_FLAG_BODY", "add_flag_routes", "subject_of"]

#: A setting is a few dozen bytes; anything past this is not one.
MAX_FLAG_BODY: Final = 4096
_MAX_KEY: Final = 64


def subject_of(request: web.Request) -> str:
    """Who a flag is evaluated for: the client id the envelope resolved, the one rate limits
    use (behind trusted proxies, `KENSHO_TRUSTED_PROXIES`, the forwarded address; else the
    peer). Stable per client, so a rollout percentage keeps the same clients in it; behind a
    balancer the peer would put every client in the balancer's bucket."""
    return f"client:{client_id(request)}"


def _flags(request: web.Request) -> FeatureFlags:
    return need(request.app, keys.FLAGS, "Feature flags")


def _json(body: Any) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _known(request: web.Request, flags: FeatureFlags, action: str) -> str:
    key = request.match_info["key"]
    if len(key) > _MAX_KEY or key not in flags.definitions:
        admin.audit_admin(request, action, f"flag:{key}", "not_found")
        raise NotFound("No flag has this key.")
    return key


async def list_flags(request: web.Request) -> web.Response:
    """GET /admin/flags: every flag, its setting here, its source and evaluations."""
    admin.authorize_admin(request, "flags-list", "*")
    flags = _flags(request)
    admin.audit_admin(request, "flags-list", "*", "ok")
    return _json(flags.describe_all())


async def put_flag(request: web.Request) -> web.Response:
    """PUT /admin/flags/{key} {"enabled", "default_variant", "rollout"}: fleet-wide."""
    key = request.match_info["key"]
    admin.authorize_admin(request, "flags-set", f"flag:{key}")
    flags = _flags(request)
    key = _known(request, flags, "flags-set")
    target = f"flag:{key}"
    body = await read_json(request, limit=MAX_FLAG_BODY)
    try:
        setting = parse_setting(flags.definitions[key], body)
    except FlagInputError as exc:
        admin.audit_admin(request, "flags-set", target, "invalid")
        raise ValidationFailed.field(exc.field, exc.message) from None
    shown = f"{target}={orjson.dumps(setting.as_dict()).decode()}"
    try:
        flag = await flags.put(key, setting)
    except RedisUnavailable:
        admin.audit_admin(request, "flags-set", shown, "error")
        raise ServiceUnavailable(
            "Redis is unavailable: the change could not reach the fleet.", retry_after=5
        ) from None
    admin.audit_admin(request, "flags-set", shown, "ok")
    return _json(flag)


async def reset_flag(request: web.Request) -> web.Response:
    """DELETE /admin/flags/{key}: drop the fleet's override (the configured setting applies)."""
    key = request.match_info["key"]
    admin.authorize_admin(request, "flags-reset", f"flag:{key}")
    flags = _flags(request)
    key = _known(request, flags, "flags-reset")
    try:
        flag = await flags.reset(key)
    except RedisUnavailable:
        admin.audit_admin(request, "flags-reset", f"flag:{key}", "error")
        raise ServiceUnavailable(
            "Redis is unavailable: the change could not reach the fleet.", retry_after=5
        ) from None
    admin.audit_admin(request, "flags-reset", f"flag:{key}", "ok")
    return _json(flag)


def add_flag_routes(app: web.Application) -> None:
    r = Routes(app)
    r.get("/admin/flags", list_flags, name="admin-flags")
    r.put("/admin/flags/{key}", put_flag, name="admin-flag")
    r.delete("/admin/flags/{key}", reset_flag, name="admin-flag-reset")
    admin_docs: dict[str, Any] = {"tags": ["admin"], "auth": "admin"}
    document_route(
        app,
        "GET",
        "/admin/flags",
        "Feature flags: settings, sources, evaluations",
        response=FlagListSchema,
        errors=(503,),
        description="Every flag the server knows, the setting in force on this replica and "
        "where it comes from (`redis`: the fleet's override; `config`: `KENSHO_FLAGS`; "
        "`default`: built in), the share of subjects per variant, and this replica's "
        "evaluation counts. `redis: down` means the configured settings are in force here.",
        **admin_docs,
    )
    document_route(
        app,
        "PUT",
        "/admin/flags/{key}",
        "Set a feature flag for the whole fleet",
        inputs=[json_schema(FlagSettingSchema, example=FlagSettingSchema.example)],
        response=FlagSchema,
        errors=(404, 413, 415, 503),
        description="Stores the setting in Redis and announces it: every replica follows "
        "within a second (at worst after `KENSHO_FLAGS_REFRESH` seconds), no restart. A "
        "subject (the client) is in a variant's rollout by a stable hash of the flag key and "
        "its id, so raising a percentage keeps everyone already in. 404 for an unknown flag, "
        "422 naming the field for an unknown variant, a percentage outside 0..100 or a total "
        f"over 100; bodies over {MAX_FLAG_BODY} bytes are 413; 503 while Redis is down.",
        **admin_docs,
    )
    document_route(
        app,
        "DELETE",
        "/admin/flags/{key}",
        "Drop the fleet's override of a flag (back to the configured setting)",
        response=FlagSchema,
        errors=(404, 503),
        **admin_docs,
    )
