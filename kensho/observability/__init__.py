"""Observability: structured JSON logging, Prometheus metrics, OpenTelemetry tracing."""

from kensho.observability.logging import configure_logging, request_id_var
from kensho.observability.metrics import Metrics
from kensho.observability.tracing import Tracing

__all__ = ["Metrics", "Tracing", "configure_logging", "request_id_var"]
