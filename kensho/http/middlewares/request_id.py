"""Request ids: accept a sane inbound `X-Request-ID`, otherwise mint one.

Minted ids are 32 hex characters: a random per-process prefix and a counter. They only have to
be unique, not secret, and a counter costs a tenth of `uuid4()` on the hot path.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable

__all__ = ["HEADER", "RequestIds", "is_sane_request_id"]

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_sane_request_id(value: str) -> bool:
    """At most 128 characters of [A-Za-z0-9._:-]: safe in logs, headers and JSON."""
    return _SANE.fullmatch(value) is not None


class RequestIds:
    """Mints request ids for requests that came without a sane one of their own."""

    def __init__(self) -> None:
        prefix = os.urandom(8).hex()  # distinct per process and per app
        #: A fresh id per call. `map(...).__next__` is one C call per id (no Python frame):
        #: the envelope mints one for nearly every request.
        self.mint: Callable[[], str] = map(f"{prefix}%016x".__mod__, itertools.count(1)).__next__
