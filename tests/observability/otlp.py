"""An in-process OTLP/HTTP trace receiver: what an operator's collector would see.

`POST /v1/traces` bodies are decoded with `opentelemetry-proto` into plain `Span` records;
tests await the spans they expect (`wait_for`), never a fixed delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

__all__ = ["Receiver", "Span", "otlp_receiver"]

KINDS = {
    PbSpan.SPAN_KIND_INTERNAL: "internal",
    PbSpan.SPAN_KIND_SERVER: "server",
    PbSpan.SPAN_KIND_CLIENT: "client",
    PbSpan.SPAN_KIND_PRODUCER: "producer",
    PbSpan.SPAN_KIND_CONSUMER: "consumer",
}


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    service: str
    attributes: dict[str, Any]
    error: bool
    links: tuple[str, ...] = ()  # trace ids of linked spans
    start_ns: int = 0
    end_ns: int = 0


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


@dataclass
class Receiver:
    url: str = ""
    spans: list[Span] = field(default_factory=list)
    requests: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        for resource_spans in message.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for pb in scope_spans.spans:
                    self.spans.append(
                        Span(
                            trace_id=pb.trace_id.hex(),
                            span_id=pb.span_id.hex(),
                            parent_id=pb.parent_span_id.hex(),
                            name=pb.name,
                            kind=KINDS[pb.kind],
                            service=str(resource.get("service.name")),
                            attributes={a.key: _value(a.value) for a in pb.attributes},
                            error=pb.status.code == pb.status.STATUS_CODE_ERROR,
                            links=tuple(link.trace_id.hex() for link in pb.links),
                            start_ns=pb.start_time_unix_nano,
                            end_ns=pb.end_time_unix_nano,
                        )
                    )
        self.requests += 1
        async with self._changed:
            self._changed.notify_all()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def wait_for(self, found: Callable[[list[Span]], Any], timeout: float = 30) -> Any:  # noqa: ASYNC109
        """The first truthy `found(spans)`, re-evaluated at each export."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := found(self.spans)):
                await self._changed.wait()
            return result

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id == trace_id]


@asynccontextmanager
async def otlp_receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port; `url` is its traces endpoint."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/v1/traces"
    try:
        yield receiver
    finally:
        await runner.cleanup()
