"""OpenTelemetry tracing: one TracerProvider per app, the OpenTelemetry instrumentations, and
the small hooks the actors, jobs and logs use.

Tracing is on only when spans have somewhere to go (`KENSHO_OTEL_ENDPOINT`, or an exporter a
test passes). Off, nothing is instrumented and every hook below is one attribute test: no
middleware, no context captured per actor message, no lookup per log line.

On, `instrument()` (called by `create_app` before the `web.Application` exists) installs:

- `opentelemetry-instrumentation-aiohttp-server`: it patches `web.Application`, so every app
  created afterwards (ours, and the in-process Crunchyroll simulator) gets its server-span
  middleware in aiohttp's ordinary middleware chain, outside our route envelope; paths matching
  `excluded_urls` (probes, /metrics) are never traced;
- `opentelemetry-instrumentation-aiopg`: a span per statement on every pool created afterwards;
- and it makes this the process's active tracing, which actor messages (`capture_context`,
  `actor_span`), background jobs (`job_span`) and the log filter read.

The Redis client and the upstream session are instrumented one by one by the composition root
(`instrument_redis`, `client_trace_configs`), which keeps other clients in the process (tests,
tools) untraced. Instrumentation is process-wide by nature: one active tracing per process; a
second `instrument()` replaces the first.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kensho.observability._private import http_semconv_mode

__all__ = [
    "DEFAULT_EXCLUDED_URLS",
    "Span",
    "Tracing",
    "active_tracer",
    "actor_span",
    "capture_context",
    "current_ids",
    "job_span",
    "span_ids",
]

log = logging.getLogger(__name__)

#: Probes and scrapes: frequent, uninteresting, and a 503 while draining is not an error.
DEFAULT_EXCLUDED_URLS = ("^/health/", "^/metrics$")


class _Active:
    """The process's active tracing (None when off): read on hot paths, so one attribute."""

    tracer: Tracer | None = None
    owner: Tracing | None = None


_ACTIVE = _Active()


class _RequestOrJobRoot(Sampler):
    """Root spans: a request's (server) or a job's (internal), sampled by `ratio`; never a
    client or consumer span without a parent.

    Those are a query, a Redis command, an upstream call or an actor message made outside any
    request or job: a readiness probe's `SELECT 1` (the probe itself is not traced), a sweeper
    tick. As one-span traces they would only bury the ones that explain something.
    """

    def __init__(self, ratio: Sampler) -> None:
        self._ratio = ratio

    def should_sample(  # noqa: PLR0917 - the Sampler interface
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind in (SpanKind.SERVER, SpanKind.INTERNAL, None):
            return self._ratio.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return f"RequestOrJobRoot{{{self._ratio.get_description()}}}"


class Tracing:
    """A tracer provider (sampler, exporter), the W3C propagator and the instrumentations."""

    def __init__(
        self,
        service_name: str,
        otel_endpoint: str | None = None,
        *,
        exporter: SpanExporter | None = None,
        sampler_ratio: float = 1.0,
        excluded_urls: Sequence[str] = DEFAULT_EXCLUDED_URLS,
    ) -> None:
        self.enabled = bool(otel_endpoint or exporter)
        if not 0.0 <= sampler_ratio <= 1.0:
            raise ValueError("the sampler ratio must be between 0 and 1")
        self.sampler_ratio = sampler_ratio
        self.excluded_urls = list(excluded_urls)
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            sampler=ParentBased(_RequestOrJobRoot(TraceIdRatioBased(sampler_ratio))),
        )
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
        self.tracer: Tracer = self.provider.get_tracer("kensho")
        self._propagator = TraceContextTextMapPropagator()
        self._instrumentors: list[Any] = []

    @classmethod
    def from_config(cls, config: Any) -> Tracing:
        """From `KENSHO_OTEL_*` (endpoint, sampler ratio, excluded URLs) and the service name."""
        return cls(
            config.service_name,
            config.otel_endpoint,
            sampler_ratio=config.otel_sampler_ratio,
            excluded_urls=config.otel_excluded_url_patterns,
        )

    # -- process-wide instrumentation ---------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether this is the process's instrumented tracing."""
        return _ACTIVE.owner is self

    def instrument(self) -> None:
        """Install the server and PostgreSQL instrumentations and become the active tracing.

        Call before the apps and pools to trace are created. A no-op when disabled.
        """
        if not self.enabled or self.active:
            return
        previous = _ACTIVE.owner
        if previous is not None:
            log.warning("a second tracing was instrumented in this process: replacing the first")
            previous.uninstrument()
        _opt_in_stable_semconv()
        # Lazy: the instrumentations load only when tracing is on.
        from opentelemetry.instrumentation.aiohttp_server import (  # noqa: PLC0415
            AioHttpServerInstrumentor,
        )
        from opentelemetry.instrumentation.aiopg import AiopgInstrumentor  # noqa: PLC0415

        server = AioHttpServerInstrumentor()
        with warnings.catch_warnings(), _environ(_SERVER_EXCLUDED, ",".join(self.excluded_urls)):
            # It subclasses web.Application (to add its middleware), which aiohttp discourages.
            warnings.filterwarnings(
                "ignore", "Inheritance class .* from web.Application", DeprecationWarning
            )
            server.instrument(tracer_provider=self.provider)
        aiopg = AiopgInstrumentor()
        aiopg.instrument(tracer_provider=self.provider)
        self._instrumentors = [server, aiopg]
        _ACTIVE.owner, _ACTIVE.tracer = self, self.tracer

    def uninstrument(self) -> None:
        """Undo `instrument` (apps and pools created meanwhile keep their instrumentation)."""
        if not self.active:
            return
        for instrumentor in reversed(self._instrumentors):
            instrumentor.uninstrument()
        self._instrumentors = []
        _ACTIVE.owner, _ACTIVE.tracer = None, None

    def instrument_redis(self, client: Any) -> None:
        """Spans for every command of this Redis client (`opentelemetry-instrumentation-redis`)."""
        if not self.enabled:
            return
        from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415

        RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def client_trace_configs(self) -> list[Any]:
        """aiohttp `trace_configs` for an upstream session: a client span per request and the
        `traceparent` header (`opentelemetry-instrumentation-aiohttp-client`); [] when off."""
        if not self.enabled:
            return []
        from opentelemetry.instrumentation.aiohttp_client import (  # noqa: PLC0415
            create_trace_config,
        )

        # The instrumentor would pass the process's semantic-convention choice (`instrument`
        # opted into the stable names); the per-session factory must be told.
        _opt_in_stable_semconv()
        mode = http_semconv_mode()
        return [
            create_trace_config(
                url_filter=_without_query,
                tracer_provider=self.provider,
                sem_conv_opt_in_mode=mode,
            )
        ]

    # -- helpers ------------------------------------------------------------------------------

    def extract(self, headers: Mapping[str, str]) -> Context:
        """The parent context from an inbound `traceparent`, or an empty one."""
        return self._propagator.extract(carrier=headers)

    def shutdown(self) -> None:
        """Uninstrument, flush and stop exporters (blocking: call it off the event loop)."""
        self.uninstrument()
        self.provider.shutdown()


#: The aiohttp-server instrumentation reads its exclusion list (comma-separated regexes) from
#: here when it is instrumented; ours come from KENSHO_OTEL_EXCLUDED_URLS (validated with the
#: config) and win over an operator's value of this one.
_SERVER_EXCLUDED = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """`os.environ[name] = value` for the block (the instrumentations read it at instrument
    time), then what was there before."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def _opt_in_stable_semconv() -> None:
    """The stable HTTP and database semantic conventions (`http.request.method`,
    `db.query.text`, ...), unless the operator chose otherwise. The instrumentations read the
    choice once per process, at the first one."""
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")


def _without_query(url: Any) -> str:
    """The URL a client span records: no query (upstream URLs may carry signed parameters)."""
    return str(url.with_query(None))


# -- hooks read by actors, jobs and logging (one attribute test when tracing is off) ---------


def active_tracer() -> Tracer | None:
    """The active tracing's tracer, or None when tracing is off."""
    return _ACTIVE.tracer


def capture_context() -> Context | None:
    """The caller's trace context, to carry across a thread hop; None when tracing is off."""
    if _ACTIVE.tracer is None:
        return None
    return otel_context.get_current()


def actor_span(
    parent: Context, actor: str, message: object, mailbox_wait_ns: int
) -> tuple[Span, object] | None:
    """Start and make current the span of one handled actor message (on the actor thread).

    Named "<actor> <message type>", a child of the context the message was sent from, with the
    mailbox wait as an attribute (messaging semantic conventions: pykka is the "system", the
    actor the destination). Returns (span, token for `end_actor_span`), or None when off.
    """
    tracer = _ACTIVE.tracer
    if tracer is None:
        return None
    kind = type(message).__name__
    span = tracer.start_span(
        f"{actor} {kind}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "pykka",
            "messaging.operation.type": "process",
            "messaging.destination.name": actor,
            "kensho.actor.message_type": kind,
            "kensho.actor.mailbox_wait_ms": mailbox_wait_ns / 1e6,
        },
    )
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return span, token


def detach(token: object) -> None:
    """Leave the context `actor_span` entered (the span may end later)."""
    otel_context.detach(token)  # type: ignore[arg-type]


def end_span(span: Span, error: BaseException | None = None) -> None:
    """End `span`, recording `error` (if any) as its status."""
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


@contextmanager
def job_span(name: str, **attributes: Any) -> Iterator[Span | None]:
    """A background job's own root trace (never a child of whatever started it), with its run
    id and other `attributes`; the request or job that triggered it is kept as a link."""
    tracer = _ACTIVE.tracer
    if tracer is None:
        yield None
        return
    trigger = trace.get_current_span().get_span_context()
    # Only a recorded trigger: a link to a span that was not sampled leads nowhere.
    links = [Link(trigger)] if trigger.is_valid and trigger.trace_flags.sampled else []
    attrs = {f"kensho.job.{k}": v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(
        name, context=Context(), kind=SpanKind.INTERNAL, attributes=attrs, links=links
    ) as span:
        yield span


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, or None (tracing off, no span)."""
    if _ACTIVE.tracer is None:
        return None
    return span_ids(trace.get_current_span())


def span_ids(span: Span) -> tuple[str, str] | None:
    """(trace id, span id) of `span` in hex, as log lines carry them; None for no span."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
