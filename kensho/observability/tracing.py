"""OpenTelemetry tracing: a per-app TracerProvider, exporting over OTLP/HTTP only when asked.

The provider is not installed globally so tests and several apps in one process stay apart;
code that needs the tracer gets it from the app (`keys.TRACING`). Without an exporter spans would
go nowhere, so tracing is then `enabled = False` and the middleware skips it entirely: span
creation was the largest cost on the /health/live hot path.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["Tracing"]


class Tracing:
    """A tracer provider plus the W3C trace-context propagator for inbound headers."""

    def __init__(
        self,
        service_name: str,
        otel_endpoint: str | None = None,
        *,
        exporter: SpanExporter | None = None,
    ) -> None:
        self.enabled = bool(otel_endpoint or exporter)
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if exporter is not None:  # tests and tools: export each span synchronously
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        if otel_endpoint:
            # Lazy: the OTLP exporter (protobuf, requests) loads only when traces are exported.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            self.provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=otel_endpoint))
            )
        self.tracer: Tracer = self.provider.get_tracer("kensho.http")
        self._propagator = TraceContextTextMapPropagator()

    def extract(self, headers: Mapping[str, str]) -> Context:
        """The parent context from an inbound `traceparent`, or an empty one."""
        return self._propagator.extract(carrier=headers)

    def shutdown(self) -> None:
        """Flush and stop exporters (blocking: call it off the event loop)."""
        self.provider.shutdown()
