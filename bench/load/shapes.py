"""`LoadTestShape`s: steady, ramp, spike and soak, sized by the environment.

`KENSHO_LOAD_USERS` (peak users, default 30), `KENSHO_LOAD_SPAWN_RATE` (users/s, default 5) and
`KENSHO_LOAD_SECONDS` (the run's length; each shape has its own default). Every shape ends
early once the file named by `KENSHO_LOAD_STOP_FILE` exists: the chaos run stops Locust that
way, so it writes its CSVs and exits on its own. The root
`locustfile.py` exposes the one named by `KENSHO_LOAD_SHAPE`; without it Locust's own `-u`,
`-r` and `-t` apply.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import LoadTestShape

__all__ = ["SHAPES", "Ramp", "Soak", "Spike", "Steady"]


def _number(name: str, default: float) -> float:
    return float(os.environ.get(name, "") or default)


class _Sized(LoadTestShape):
    abstract = True
    default_seconds = 300.0

    def __init__(self) -> None:
        super().__init__()
        self.users = int(_number("KENSHO_LOAD_USERS", 30))
        self.rate = _number("KENSHO_LOAD_SPAWN_RATE", 5)
        self.seconds = _number("KENSHO_LOAD_SECONDS", self.default_seconds)
        stop = os.environ.get("KENSHO_LOAD_STOP_FILE", "")
        self.stop_file = Path(stop) if stop else None

    def over(self) -> bool:
        """The run's time is up, or the stop file appeared."""
        stopped = self.stop_file is not None and self.stop_file.exists()
        return stopped or self.get_run_time() >= self.seconds


class Steady(_Sized):
    """The peak number of users from the start (spawned at the spawn rate) until the end:
    the chaos run's load, so a fault is the only thing that changes."""

    def tick(self) -> tuple[int, float] | None:
        return None if self.over() else (self.users, self.rate)


class Ramp(_Sized):
    """From one user to the peak in ten equal steps over the run: where does latency bend?"""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if self.over():
            return None
        step = min(10, int(t / (self.seconds / 10)) + 1)
        return max(1, self.users * step // 10), self.rate


class Spike(_Sized):
    """A quarter of the peak, then three times the peak for a fifth of the run (in the
    middle), then a quarter again: does it recover without restarts?"""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if self.over():
            return None
        base = max(1, self.users // 4)
        if 0.4 * self.seconds <= t < 0.6 * self.seconds:
            return self.users * 3, max(self.rate, self.users * 3 / 5)
        return base, max(self.rate, self.users * 3 / 5)


class Soak(Steady):
    """The peak for an hour (by default): leaks, growing queues, expiring sessions."""

    default_seconds = 3600.0


SHAPES: dict[str, type[LoadTestShape]] = {
    "steady": Steady,
    "ramp": Ramp,
    "spike": Spike,
    "soak": Soak,
}
