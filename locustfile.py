"""Kenshō's load scenarios, where `locust` looks for them by default.

    .venv/bin/locust --host http://127.0.0.1:8080                  # web UI, pick the numbers
    KENSHO_LOAD_SHAPE=spike KENSHO_LOAD_USERS=40 .venv/bin/locust --host http://127.0.0.1:8080 \
        --headless --csv out/kensho --csv-full-history
    make chaos                                                     # faults under load, a report

User classes, their weights and think times: `bench/load/users.py`; shapes (steady, ramp,
spike, soak): `bench/load/shapes.py`; `KENSHO_LOAD_EVENTS=path` writes every request's
outcome as JSON lines (`bench/load/events.py`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from locust import events

from bench.load.events import EventLog, RetryLog
from bench.load.shapes import SHAPES
from bench.load.users import AbusiveClient, BingeWatcher, Operator, Searcher, Viewer

__all__ = ["AbusiveClient", "BingeWatcher", "Operator", "Searcher", "Viewer"]

_shape = os.environ.get("KENSHO_LOAD_SHAPE", "")
if _shape:
    if _shape not in SHAPES:
        raise SystemExit(f"KENSHO_LOAD_SHAPE={_shape!r}: choose one of {', '.join(SHAPES)}")
    Shape = SHAPES[_shape]  # the only LoadTestShape Locust finds in this module

_events_path = os.environ.get("KENSHO_LOAD_EVENTS", "")
if _events_path:
    _out = open(_events_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (the run's life)
    events.request.add_listener(EventLog(_out))
    logging.getLogger("urllib3.connectionpool").addHandler(RetryLog(_out))

    @events.quit.add_listener
    def _close(**_: Any) -> None:
        _out.close()
