"""One rate-limit policy: a GCRA quota (`rate` per second, bursts of `burst`) and its headers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    """`burst` requests at once, refilled at `rate` per second (GCRA's emission interval 1/rate).

    As an IETF `RateLimit-Policy` item it is a quota of `burst` over the window in which an
    empty quota refills completely (`burst / rate` seconds, at least 1).
    """

    name: str
    rate: float
    burst: int
    interval_us: int = field(init=False)
    #: Seconds an empty quota takes to refill completely (`burst / rate`).
    window: float = field(init=False)
    header: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.rate > 0 or self.burst < 1:
            raise ValueError("a policy needs an identifier name, rate > 0 and burst >= 1")
        object.__setattr__(self, "interval_us", max(1, round(1_000_000 / self.rate)))
        object.__setattr__(self, "window", self.burst / self.rate)
        window = max(1, math.ceil(self.window))
        object.__setattr__(self, "header", f'"{self.name}";q={self.burst};w={window}')

    def usage_header(self, remaining: int, reset: float) -> str:
        """The `RateLimit` item: remaining units and whole seconds until the quota is full."""
        remaining = max(remaining, 0)
        return f'"{self.name}";r={remaining};t={math.ceil(reset) if reset > 0 else 0}'
