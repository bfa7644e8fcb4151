"""The CI gate on critical-path coverage (line + branch), read from `coverage json` output.

The critical paths (docs/architecture.md, "Coverage"): actors and supervision, the breaker,
sessions and auth, the cache, rate limits and shutdown. Each critical module has a floor in
`tools/critical_coverage.toml` (percent, line and branch together, as coverage.py counts
it): the run fails when a module drops below its floor, when a critical module was not
measured at all, or when a floor lists a module that no longer exists. Target: every floor
at 100, reached by tests or by `# pragma: no cover - <reason>` on lines no test can reach.
Raise a floor whenever a module's coverage rises (`--suggest` prints the measured values).

Usage: `python tools/critical_coverage.py coverage.json [--suggest]`; exit 1 on a drop.
`python tools/critical_coverage.py --cov-args` prints the pytest-cov options that measure
exactly these modules (`make coverage`): nothing else is traced, so the rest of the suite
runs at full speed under coverage.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

FLOORS = Path(__file__).with_name("critical_coverage.toml")


def percent(summary: dict[str, Any]) -> float:
    """Line + branch coverage of one file, as coverage.py's own `percent_covered`."""
    covered = summary["covered_lines"] + summary.get("covered_branches", 0)
    total = summary["num_statements"] + summary.get("num_branches", 0)
    return 100.0 if total == 0 else 100.0 * covered / total


def check(report: dict[str, Any], floors: dict[str, float]) -> list[str]:
    """One line per module below its floor (or missing from the report)."""
    files = report["files"]
    problems = []
    for module, floor in sorted(floors.items()):
        if not Path(module).exists():
            problems.append(f"{module}: listed in {FLOORS.name} but gone; update the list")
            continue
        entry = files.get(module)
        if entry is None:
            problems.append(f"{module}: not measured (no test imported it?)")
            continue
        got = percent(entry["summary"])
        if got + 1e-9 < floor:
            missing = entry.get("missing_lines", [])[:20]
            problems.append(f"{module}: {got:.2f}% < floor {floor:.2f}% (missing lines {missing})")
    return problems


def main(argv: list[str]) -> int:
    floors: dict[str, float] = tomllib.loads(FLOORS.read_text("utf-8"))["floors"]
    if argv == ["--cov-args"]:
        modules = (m.removesuffix(".py").replace("/", ".") for m in sorted(floors))
        print(" ".join(f"--cov={m}" for m in modules))
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text("utf-8"))
    if "--suggest" in argv:
        for module in sorted(floors):
            entry = report["files"].get(module)
            if entry is not None:
                print(f'"{module}" = {int(percent(entry["summary"]) * 100) / 100:.2f}')
        return 0
    problems = check(report, floors)
    at_100 = sum(1 for v in floors.values() if v >= 100)
    print(f"critical-path coverage: {len(floors)} modules, {at_100} at 100 %")
    for line in problems:
        print(f"  DROPPED {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
