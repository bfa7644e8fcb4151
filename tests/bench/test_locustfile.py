"""The root `locustfile.py`: Locust finds every user class and the shape the environment names.

Locust monkey-patches the standard library with gevent when imported, so it runs in a
subprocess, never in the test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_TICKS = """
import json, os
from bench.load.shapes import SHAPES
out = {}
for name, shape_class in SHAPES.items():
    shape = shape_class()
    ticks = []
    for t in (0, 10, 25, 45, 55, 75, 99, 100):
        shape.get_run_time = lambda t=t: t
        ticks.append(shape.tick())
    out[name] = ticks
print(json.dumps(out))
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_LOAD_")} | env
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=60,
        check=False,
    )


def test_locust_finds_every_user_class() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfile.py", "--list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    names = {line.strip() for line in out.stdout.splitlines()}
    assert {"Viewer", "Searcher", "BingeWatcher", "AbusiveClient", "Operator"} <= names


def test_shapes_follow_their_plan_and_a_stop_file_ends_them(tmp_path: Path) -> None:
    env = {"KENSHO_LOAD_USERS": "40", "KENSHO_LOAD_SPAWN_RATE": "5", "KENSHO_LOAD_SECONDS": "100"}
    done = _python(_TICKS, **env)
    assert done.returncode == 0, done.stderr[-2000:]
    ticks = json.loads(done.stdout.strip().splitlines()[-1])
    assert ticks["steady"] == [[40, 5.0]] * 7 + [None]
    assert ticks["soak"] == [[40, 5.0]] * 7 + [None]  # KENSHO_LOAD_SECONDS overrides the hour
    assert ticks["ramp"] == [
        [4, 5.0],
        [8, 5.0],
        [12, 5.0],
        [20, 5.0],
        [24, 5.0],
        [32, 5.0],
        [40, 5.0],
        None,
    ]
    base, peak = [10, 24.0], [120, 24.0]
    assert ticks["spike"] == [base, base, base, peak, peak, base, base, None]

    stop = tmp_path / "stop"
    stop.touch()
    done = _python(_TICKS, KENSHO_LOAD_STOP_FILE=str(stop), **env)
    assert done.returncode == 0, done.stderr[-2000:]
    stopped = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(ticks == [None] * 8 for ticks in stopped.values())


def test_an_unknown_shape_is_refused_by_name() -> None:
    done = _python("import locustfile", KENSHO_LOAD_SHAPE="tsunami")
    assert done.returncode != 0
    assert "KENSHO_LOAD_SHAPE='tsunami'" in done.stderr
