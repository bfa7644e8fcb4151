"""Tracing: one server span per request, named by route template, child of inbound traceparent."""

from __future__ import annotations

import os
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from httpkit import StandInSupervisor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kensho.composition.services import actor_tree
from kensho.config import Config
from kensho.http.app import create_app
from kensho.observability.tracing import Tracing, active_tracer

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


async def test_server_span_per_request(aiohttp_client: object) -> None:
    exporter = InMemorySpanExporter()
    sup = StandInSupervisor()
    app = create_app(
        Config(admin_token="t"),
        resources=[actor_tree(lambda _c: sup)],
        tracing=Tracing("kensho-test", exporter=exporter),
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    resp = await client.get(
        "/admin/actors/cache",
        headers={
            "Authorization": "Bearer t",
            "X-Request-ID": "span-1",
            "traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01",
        },
    )
    assert resp.status == 200
    await client.get("/no/such/raw/path")
    first, second = exporter.get_finished_spans()
    assert first.name == "GET /admin/actors/{name}"
    assert first.kind is SpanKind.SERVER
    assert first.attributes is not None
    assert first.attributes["http.route"] == "/admin/actors/{name}"
    assert first.attributes["http.response.status_code"] == 200
    assert first.attributes["kensho.request_id"] == "span-1"
    assert format(first.context.trace_id, "032x") == PARENT_TRACE
    assert first.parent is not None and format(first.parent.span_id, "016x") == PARENT_SPAN
    assert second.name == "GET unmatched"
    assert second.parent is None


def test_disabled_without_exporter() -> None:
    assert not Tracing("kensho").enabled
    assert Tracing("kensho", exporter=InMemorySpanExporter()).enabled


def test_disabled_tracing_puts_nothing_in_the_middleware_chain() -> None:
    app = create_app(Config(), api_routes=False)
    assert list(app.middlewares) == []
    assert active_tracer() is None


async def test_probes_and_metrics_are_not_traced(aiohttp_client: object) -> None:
    exporter = InMemorySpanExporter()
    app = create_app(Config(), api_routes=False, tracing=Tracing("kensho-test", exporter=exporter))
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    for path in ("/health/live", "/health/ready", "/metrics"):
        await client.get(path)
    await client.get("/traced")  # an unmatched path: traced (404)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET unmatched"
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 404


async def test_sampling_is_parent_based(aiohttp_client: object) -> None:
    """Ratio 0 keeps no new trace, but a caller's sampled `traceparent` is followed."""
    exporter = InMemorySpanExporter()
    tracing = Tracing("kensho-test", exporter=exporter, sampler_ratio=0.0)
    app = create_app(Config(), api_routes=False, tracing=tracing)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    await client.get("/not-sampled")
    assert exporter.get_finished_spans() == ()
    await client.get("/sampled", headers={"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"})
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == PARENT_TRACE


async def test_third_party_middlewares_run_in_aiohttps_chain(aiohttp_client: object) -> None:
    """The envelope wraps handlers, not the chain: an ordinary aiohttp middleware sees every
    request and the envelope's final answer (a problem+json 404 here)."""
    seen: list[tuple[str, int, str]] = []

    @web.middleware
    async def third_party(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        seen.append((request.path, response.status, response.content_type))
        return response

    exporter = InMemorySpanExporter()
    app = create_app(
        Config(),
        api_routes=False,
        middlewares=[third_party],
        tracing=Tracing("kensho-test", exporter=exporter),
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    resp = await client.get("/nowhere", headers={"X-Request-ID": "mw-1"})
    assert resp.status == 404
    assert seen == [("/nowhere", 404, "application/problem+json")]
    (span,) = exporter.get_finished_spans()  # the OpenTelemetry middleware sits beside ours
    assert span.attributes is not None and span.attributes["kensho.request_id"] == "mw-1"


async def test_the_configured_exclusions_replace_the_instrumentations_own(
    aiohttp_client: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KENSHO_OTEL_EXCLUDED_URLS reaches the instrumentation through its documented variable,
    which is left as the operator set it."""
    monkeypatch.setenv("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", "^/loud")
    exporter = InMemorySpanExporter()
    tracing = Tracing("kensho-test", exporter=exporter, excluded_urls=["^/quiet"])
    app = create_app(Config(), api_routes=False, tracing=tracing)
    assert os.environ["OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"] == "^/loud"
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    await client.get("/quiet/1")
    await client.get("/loud/1")
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None and span.attributes["url.path"] == "/loud/1"
