"""Structured access log: one JSON line per response, written after the body went out.

aiohttp builds one access logger per connection. When the server's batching JSON writer is the
only destination (`kensho serve`), the line is filled into a fixed template and queued as it
is: on /health/live a `LogRecord`, or even a dict for orjson, cost more than the handler. The
envelope hands over the request id (sane by construction: [A-Za-z0-9._:-]) and the route
template already JSON-encoded (`keys.ACCESS`); the method and the peer address are encoded
here (once per method, once per connection), so nothing a client sends can break the line.
With tracing on, the line also carries the request's `trace_id` and `span_id`: the envelope
keeps them on the request (`keys.TRACE_IDS`), since the server span has ended, and its context
is gone, by the time the line is written. Off, that costs one attribute test per line.
Requests that never reached the envelope (refused by the HTTP parser) and every other set-up
(tests capturing logs, text format, extra handlers) log through `logging`, with the same fields.
"""

from __future__ import annotations

import logging
import time as _time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kensho.http.keys import ACCESS, CLIENT_ID, REQUEST_ID, TRACE_IDS
from kensho.http.route_info import route_template
from kensho.observability.logging import BatchingHandler, JsonFormatter, direct_json_writer
from kensho.observability.tracing import active_tracer

__all__ = ["JsonAccessLogger"]

#: The keys and their order are `JsonFormatter`'s for an "access" record with these fields.
_LINE = (
    '{"ts":"%%s","level":"INFO","logger":%s,"msg":"access","request_id":"%%s",'
    '"event":"access","method":%%s,"route":%%s,"status":%%d,"duration_ms":%%.3f,"bytes":%%d,'
    '"remote":%%s%s}'
)
#: What a traced request's line adds at its end (the ids are hex: nothing to escape).
_IDS = ',"trace_id":"%s","span_id":"%s"'
_MAX_METHOD = 16


class _Encoded(dict[str, str]):
    """JSON text of the methods seen so far: each is encoded once."""

    def __missing__(self, value: str) -> str:
        text = orjson.dumps(value).decode()
        if len(self) < 64:  # bounded: methods are client-controlled
            self[value] = text
        return text


_methods = _Encoded()


class JsonAccessLogger(AbstractAccessLogger):
    """Logs method, route template, status, duration, bytes and request id as fields."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self._direct: BatchingHandler | None = direct_json_writer(logger, logging.INFO)
        formatter = self._direct.formatter if self._direct is not None else None
        self._timestamp = formatter.timestamp_ms if isinstance(formatter, JsonFormatter) else None
        name = orjson.dumps(logger.name).decode()
        self._line = _LINE % (name, "")
        self._traced_line = _LINE % (name, _IDS)
        #: Tracing is switched on before the app exists, so once per connection is enough.
        self._traced = active_tracer() is not None
        self._remote: str | None = None  # JSON text of the peer: one connection, one peer
        self._peer: str | None = None

    @property
    def enabled(self) -> bool:
        """aiohttp skips `log` altogether when INFO is off."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            access = request[ACCESS]  # (`get` is a Python mixin calling this anyway)
        except KeyError:  # refused before the envelope (the HTTP parser's 400s)
            access = None
        if access is None or self._direct is None or self._timestamp is None:
            self._log_record(request, response, time)
            return
        remote = self._remote
        if remote is None:
            self._peer = request.remote
            remote = self._remote = orjson.dumps(self._peer).decode()
        client = request.get(CLIENT_ID)  # behind a trusted proxy: many clients, one connection
        if client is not None and client != self._peer:
            remote = orjson.dumps(client).decode()
        fields = (
            self._timestamp(int(_time.time() * 1000)),
            access[0],
            _methods[request.method[:_MAX_METHOD]],
            access[1],
            response.status,
            time * 1000,
            response.body_length,
            remote,
        )
        if self._traced and (ids := request.get(TRACE_IDS)) is not None:
            self._direct.write_line(self._traced_line % (*fields, *ids))
            return
        self._direct.write_line(self._line % fields)

    def _log_record(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float
    ) -> None:
        fields: dict[str, Any] = {
            "event": "access",
            "method": request.method[:_MAX_METHOD],
            "route": route_template(request),
            "status": response.status,
            "duration_ms": round(time * 1000, 3),
            "bytes": response.body_length,
            "remote": request.get(CLIENT_ID) or request.remote,
            "request_id": request.get(REQUEST_ID),
        }
        if self._traced and (ids := request.get(TRACE_IDS)) is not None:
            fields["trace_id"], fields["span_id"] = ids
        self.logger.info("access", extra=fields)
