"""`make bench` / `python -m bench [name ...]`: run the benchmark scripts, print and save JSON.

Each module in this package exposes `main() -> dict`. Results go to stdout and to
`bench/results/<name>.json`; `docs/benchmarks.md` records them with the machine and the date.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

ALL = (
    "ask",
    "http",
    "catalog",
    "search",
    "search-http",
    "sync",
    "rollout",
    "loop",
    "fleet",
    "flags",
    "ratelimit",
    "tracing",
)


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = sorted(set(names) - set(ALL))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL)}")
        return 2
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()}
    failed = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        started = time.time()
        try:
            result = importlib.import_module(f"bench.{name.replace('-', '_')}").main()
        except Exception as exc:  # one broken bench must not hide the others' numbers
            failed += 1
            result = {"error": f"{type(exc).__name__}: {exc}"}
        record = {
            "bench": name,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "machine": machine,
            "result": result,
        }
        (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        print(json.dumps(record, indent=2, default=str), flush=True)
    return 1 if failed else 0


def _cpus() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
        return f"{sum('processor' in line for line in lines)} x {model}"
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
