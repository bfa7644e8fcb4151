"""Request ids: accept a sane inbound `X-Request-ID`, otherwise mint one.

Minted ids are 32 hex characters: a random per-process prefix and a counter. They only have to
be unique, not secret, and a counter costs a tenth of `uuid4()` on the hot path.
"""

from __future__ import annotations

import itertools
import os
import re

from aiohttp import web

__all__ = ["HEADER", "RequestIds", "is_sane_request_id"]

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_sane_request_id(value: str) -> bool:
    """At most 128 characters of [A-Za-z0-9._:-]: safe in logs, headers and JSON."""
    return _SANE.fullmatch(value) is not None


class RequestIds:
    """Hands out each request's id: the client's if sane, else a fresh one."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()  # distinct per process and per app
        self._counter = itertools.count(1)

    def mint(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    def for_request(self, request: web.Request) -> str:
        inbound = request.headers.get(HEADER)
        if inbound is not None and _SANE.fullmatch(inbound) is not None:
            return inbound
        return self.mint()
