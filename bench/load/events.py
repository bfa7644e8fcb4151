"""Every request's outcome as one JSON line (`KENSHO_LOAD_EVENTS=path`): when it started, how
long it took, its status (0 = no answer), the problem type of an error, which user class and
client asked. The chaos analysis classifies failures by the fault windows from these."""

from __future__ import annotations

import json
import logging
import time
from typing import IO, Any

__all__ = ["EventLog", "RetryLog"]


class EventLog:
    """A `request` event listener appending one line per request to an open file."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        record: dict[str, Any] = {
            "t": round(start_time or 0.0, 3),
            "ms": round(response_time or 0.0, 1),
            "method": request_type,
            "name": name,
            "status": status,
            "ok": exception is None,
            "user": (context or {}).get("user", ""),
            "client": (context or {}).get("client", ""),
        }
        if status >= 400 and response is not None:
            record["problem"] = _problem_type(response)
        if exception is not None and status == 0:
            record["error"] = type(exception).__name__
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")


def _problem_type(response: Any) -> str:
    """The problem's type slug, or "" when the body is no problem+json (a balancer's page)."""
    if "problem+json" not in response.headers.get("Content-Type", ""):
        return ""
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return ""


class RetryLog(logging.Handler):
    """urllib3's "Retrying … after connection broken" warnings as event lines (`retry`: true).

    The users retry a GET once when a reused keep-alive connection was closed under them
    (as browsers do); each retry is recorded here, so the report counts them instead of
    hiding them."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(logging.WARNING)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Retrying" not in message:
            return
        line = {
            "t": round(time.time(), 3),
            "ms": 0,
            "method": "GET",
            "name": "[client-retry]",
            "status": 0,
            "ok": True,
            "retry": True,
            "user": "",
            "client": "",
            "error": message[:200],
        }
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
