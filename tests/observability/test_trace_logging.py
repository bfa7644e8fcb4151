"""Log lines inside a traced request, actor message or job carry its trace and span ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kensho.observability.logging import JsonFormatter, RequestIdFilter
from kensho.observability.tracing import Tracing, active_tracer, job_span


@pytest.fixture
def tracing() -> Iterator[Tracing]:
    tracing = Tracing("log-test", exporter=InMemorySpanExporter())
    tracing.instrument()
    try:
        yield tracing
    finally:
        tracing.shutdown()


def _line(message: str) -> dict[str, object]:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    RequestIdFilter().filter(record)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_inside_a_span_carries_its_ids(tracing: Tracing) -> None:
    with tracing.tracer.start_as_current_span("request") as span:
        line = _line("inside")
    ctx = span.get_span_context()
    assert line["trace_id"] == format(ctx.trace_id, "032x")
    assert line["span_id"] == format(ctx.span_id, "016x")
    assert "trace_id" not in _line("outside")


def test_a_job_is_a_root_trace_linked_to_its_trigger(tracing: Tracing) -> None:
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    with (
        tracing.tracer.start_as_current_span("request") as request,
        job_span("catalog_sync run", run_id="r1", skipped=None) as job,
    ):
        assert job is not None
        line = _line("in the job")
    (run,) = [s for s in exporter.get_finished_spans() if s.name == "catalog_sync run"]
    assert run.parent is None
    assert run.context.trace_id != request.get_span_context().trace_id
    assert [link.context.span_id for link in run.links] == [request.get_span_context().span_id]
    assert run.attributes == {"kensho.job.run_id": "r1"}
    assert line["trace_id"] == format(run.context.trace_id, "032x")


def test_nothing_is_added_when_tracing_is_off() -> None:
    assert active_tracer() is None
    assert "trace_id" not in _line("off")
    with job_span("cache_warming", run_id="x") as job:
        assert job is None
