"""Structured access log: one JSON line per response, written after the body went out."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kensho.http.keys import REQUEST_ID
from kensho.http.route_info import route_template

__all__ = ["JsonAccessLogger"]


class JsonAccessLogger(AbstractAccessLogger):
    """Logs method, route template, status, duration, bytes and request id as fields."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "access",
            extra={
                "event": "access",
                "method": request.method[:16],
                "route": route_template(request),
                "status": response.status,
                "duration_ms": round(time * 1000, 3),
                "bytes": response.body_length,
                "request_id": request.get(REQUEST_ID),
                "remote": request.remote,
            },
        )
