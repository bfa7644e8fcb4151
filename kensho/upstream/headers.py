"""`Retry-After` (RFC 9110 §10.2.3): how long an upstream asks us to wait."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

#: Longest `Retry-After` value we parse at all; anything larger is treated as hostile.
_MAX_HEADER_LEN = 64


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_HEADER_LEN:
        return None
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # not RFC 9110, but seen in the wild: "1.5"; reject nan/inf/negative
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
