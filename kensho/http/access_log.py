"""Structured access log: one JSON line per response, written after the body went out.

aiohttp builds one access logger per connection. When the server's batching JSON writer is the
only destination (`kensho serve`), the line is written directly, without a `LogRecord`: on
/health/live the record machinery cost more than the handler. Otherwise (tests capturing logs,
text format, extra handlers) it logs normally, with the same fields.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kensho.http.keys import REQUEST_ID
from kensho.http.route_info import route_template
from kensho.observability.logging import direct_json_writer

__all__ = ["JsonAccessLogger"]


class JsonAccessLogger(AbstractAccessLogger):
    """Logs method, route template, status, duration, bytes and request id as fields."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self._direct = direct_json_writer(logger, logging.INFO)

    @property
    def enabled(self) -> bool:
        """aiohttp skips `log` altogether when INFO is off."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        rid = request.get(REQUEST_ID)
        fields = {
            "event": "access",
            "method": request.method[:16],
            "route": route_template(request),
            "status": response.status,
            "duration_ms": round(time * 1000, 3),
            "bytes": response.body_length,
            "remote": request.remote,
        }
        if self._direct is not None:
            self._direct.write_json(self.logger.name, "INFO", "access", rid, fields)
        else:
            self.logger.info("access", extra={**fields, "request_id": rid})
