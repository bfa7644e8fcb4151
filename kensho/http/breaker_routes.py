"""The upstream breaker's operator surface: POST /admin/breaker, metrics and readiness.

Metrics and readiness read the breaker actor's published view (no mailbox hop), so a wedged
actor still reports. An open breaker makes readiness *degraded*: cached reads still work.
"""

from __future__ import annotations

from collections.abc import Iterable

import marshmallow as ma
import orjson
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kensho.actors.breaker import BreakerGate, BreakerView, Override
from kensho.errors import ServiceUnavailable, ValidationFailed
from kensho.http import admin, keys
from kensho.http.auth_routes import UPSTREAM, supervisor_handle
from kensho.http.bodies import read_json
from kensho.http.readiness import ReadinessCheck
from kensho.http.routing import Routes
from kensho.http.schemas.admin import BREAKER_STATES, BreakerOverrideSchema

__all__ = ["BreakerCollector", "add_breaker_routes", "breaker_view"]


def breaker_view(app: web.Application) -> BreakerView | None:
    sup = app.get(keys.SUPERVISOR)
    if sup is None or not hasattr(sup, "handle"):
        return None
    try:
        view = supervisor_handle(app, "breaker").view
    except Exception:  # no breaker child in this tree
        return None
    return view if isinstance(view, BreakerView) else None


def _gate(app: web.Application) -> BreakerGate | None:
    client = app.get(UPSTREAM)
    gate = getattr(client, "gate", None)
    return gate if isinstance(gate, BreakerGate) else None


class BreakerCollector(Collector):
    """breaker_state, breaker_transitions_total, breaker_calls_total{outcome} at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "breaker_state", "1 for the upstream breaker's current state", labels=["state"]
        )
        transitions = CounterMetricFamily(
            "breaker_transitions", "Breaker state transitions", labels=["from_state", "to_state"]
        )
        calls = CounterMetricFamily(
            "breaker_calls", "Upstream calls by outcome", labels=["outcome"]
        )
        view = breaker_view(self._app)
        if view is not None:
            for name in BREAKER_STATES:
                state.add_metric([name], 1.0 if view.state.value == name else 0.0)
            for (before, after), count in view.transitions.items():
                transitions.add_metric([before, after], float(count))
            gate = _gate(self._app)
            for outcome, count in view.calls.items():
                fast = gate.rejected if gate is not None and outcome == "rejected" else 0
                calls.add_metric([outcome], float(count + fast))
        return [state, transitions, calls]


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
    mode = data["mode"]
    try:
        view: BreakerView = await supervisor_handle(request.app, "breaker").ask(Override(mode))
    except ServiceUnavailable:
        admin.audit_admin(request, "breaker", f"breaker:{mode}", "error")
        raise
    admin.audit_admin(request, "breaker", f"breaker:{mode}", "ok")
    body_out = view.as_dict()
    resp = web.Response(body=orjson.dumps(body_out), content_type="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_breaker_routes(app: web.Application) -> None:
    """Route, metrics collector and the (not required) readiness check."""
    Routes(app).post("/admin/breaker", override, name="admin-breaker")
    app[keys.METRICS].registry.register(BreakerCollector(app))

    async def probe() -> None:
        view = breaker_view(app)
        if view is not None and view.state.value in ("open", "forced_open"):
            raise RuntimeError(f"upstream breaker {view.state.value}")

    app[keys.READINESS].add(ReadinessCheck("upstream_breaker", required=False, probe=probe))
