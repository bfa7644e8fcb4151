"""Fault injection and request statistics: ``/_sim/faults`` and ``/_sim/stats``.

A fault applies to requests whose path starts with ``path_prefix`` (never to ``/_sim/``):
every matching request waits ``latency_ms``; then, with probability ``error_rate``, it fails
according to ``mode``:

- ``error``: answer ``status`` the way the real edge does (429 Cloudflare 1015 HTML with
  ``Retry-After``, 403 "Just a moment...", 5xx "Crunchyroll - Overloaded" HTML, 404 JSON);
- ``reset``: abort the TCP connection (RST) without a response;
- ``slow_drip``: send the real response, its body trickled over ``latency_ms`` (default 2 s).

``error_rate`` defaults to 1.0 when ``status`` or ``mode`` is given and to 0.0 otherwise, so
``{"latency_ms": 200}`` only slows requests down and ``{"status": 503}`` is a full outage. The
draws come from the simulator's seeded generator, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from kensho.upstream.simulator.responses import error_for_status, json_error, json_response
from kensho.upstream.simulator.state import STATE, Fault, SimState

__all__ = ["fault_middleware", "parse_fault", "routes", "stats_middleware"]

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MODES = ("error", "reset", "slow_drip")
_DRIP_DEFAULT_MS = 2000
_DRIP_CHUNKS = 10


def parse_fault(doc: Any, fault_id: int) -> Fault | list[dict[str, str]]:
    """A `Fault` from a JSON document, or the list of field errors."""
    if not isinstance(doc, dict):
        return [{"field": "", "message": "body must be a JSON object"}]
    errors: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    for name in doc:
        if name not in ("path_prefix", "error_rate", "status", "latency_ms", "mode", "retry_after"):
            bad(str(name)[:64], "unknown field")
    prefix = doc.get("path_prefix", "/")
    if not isinstance(prefix, str) or not prefix.startswith("/") or len(prefix) > 256:
        bad("path_prefix", "must be a path starting with / (at most 256 characters)")
    mode = doc.get("mode", "error")
    if mode not in MODES:
        bad("mode", f"must be one of {', '.join(MODES)}")
    default_rate = 1.0 if ("status" in doc or "mode" in doc) else 0.0
    rate = doc.get("error_rate", default_rate)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        bad("error_rate", "must be a number from 0 to 1")
    status = doc.get("status", 503)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        bad("status", "must be an integer from 400 to 599")
    latency = doc.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 60_000:
        bad("latency_ms", "must be an integer from 0 to 60000")
    retry_after = doc.get("retry_after")
    if retry_after is not None and (
        isinstance(retry_after, bool)
        or not isinstance(retry_after, int)
        or not 0 <= retry_after <= 86_400
    ):
        bad("retry_after", "must be an integer from 0 to 86400")
    if errors:
        return errors
    return Fault(fault_id, prefix, float(rate), status, latency, mode, retry_after)


def _fault_json(fault: Fault) -> dict[str, Any]:
    return asdict(fault)


@routes.post("/_sim/faults", name="add_fault")
async def add_fault(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        doc = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return json_error(
            422, "sim.invalid_fault", context=[{"field": "", "message": "body is not valid JSON"}]
        )
    if len(state.faults) >= state.config.max_faults:
        return json_error(
            422, "sim.too_many_faults", context=[{"field": "", "message": "clear faults first"}]
        )
    fault = parse_fault(doc, state.next_fault_id)
    if isinstance(fault, list):
        return json_error(422, "sim.invalid_fault", context=fault)
    state.next_fault_id += 1
    state.faults.append(fault)
    return json_response(_fault_json(fault), status=201)


@routes.get("/_sim/faults", name="list_faults")
async def list_faults(request: web.Request) -> web.Response:
    return json_response({"faults": [_fault_json(f) for f in request.app[STATE].faults]})


@routes.delete("/_sim/faults", name="clear_faults")
async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults.clear()
    return web.Response(status=204)


@routes.get("/_sim/stats", name="stats")
async def get_stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_response(
        {
            "total": sum(state.requests.values()),
            "paths": {
                p: {"count": n, "statuses": dict(state.statuses[p])}
                for p, n in sorted(state.requests.items())
            },
        }
    )


@routes.delete("/_sim/stats", name="reset_stats")
async def reset_stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests.clear()
    state.statuses.clear()
    return web.Response(status=204)


def _route_of(request: web.Request) -> str:
    """The route template (bounded cardinality), e.g. ``/content/v2/cms/series/{id}``."""
    info = request.match_info
    if info.http_exception is None and info.route.resource is not None:
        return info.route.resource.canonical
    return "<unmatched>"


def _count(state: SimState, key: str, status: str) -> None:
    state.requests[key] += 1
    state.statuses[key][status] += 1


@web.middleware
async def stats_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_sim/"):
        return await handler(request)
    state = request.app[STATE]
    key = _route_of(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _count(state, key, str(exc.status))
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        _count(state, key, "reset")
        raise
    _count(state, key, "reset" if request.transport is None else str(response.status))
    return response


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _drip(
    request: web.Request, response: web.StreamResponse, total_ms: int
) -> web.StreamResponse:
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    dripped = web.StreamResponse(status=response.status, headers=response.headers)
    dripped.content_length = len(body)
    await dripped.prepare(request)
    chunks = max(1, min(_DRIP_CHUNKS, len(body)))
    size = -(-len(body) // chunks)
    pause = (total_ms or _DRIP_DEFAULT_MS) / 1000 / chunks
    for at in range(0, len(body), size):
        await asyncio.sleep(pause)
        await dripped.write(body[at : at + size])
    await dripped.write_eof()
    return dripped


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if not state.faults or request.path.startswith("/_sim/"):
        return await handler(request)
    drip: Fault | None = None
    for fault in tuple(state.faults):
        if not request.path.startswith(fault.path_prefix):
            continue
        if fault.latency_ms and fault.mode != "slow_drip":
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.error_rate <= 0.0 or (
            fault.error_rate < 1.0 and state.rng.random() >= fault.error_rate
        ):
            continue
        if fault.mode == "error":
            return error_for_status(fault.status, fault.retry_after)
        if fault.mode == "reset":
            _reset(request)
            raise ConnectionResetError("fault injection: connection reset")
        drip = drip or fault
    response = await handler(request)
    if drip is not None:
        return await _drip(request, response, drip.latency_ms)
    return response
