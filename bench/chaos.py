"""Chaos under load: `python -m bench.chaos` (`make chaos`), `--smoke` for CI's short version.

Locust (the root `locustfile.py`, headless, as a subprocess: gevent stays out of this asyncio
process) loads the full stack of `bench.load.stack` — two `kensho serve` replicas behind
HAProxy, a scratch database of the machine's PostgreSQL, a Redis this script starts, the
simulator in its own process — while faults are injected in sequence, each followed by a
recovery window: the upstream fully out, then 30 % errors with latency (`/_sim/faults`); Redis
stopped and started again; every PostgreSQL connection of the app terminated
(`pg_terminate_backend`); an actor crash loop (`POST /admin/actors/{name}/restart`); a rolling
restart with SIGTERM. PostgreSQL itself is not restarted: the machine's server is shared and
this script does not own it.

Per phase: error rate (documented vs unexpected, `bench.load.analysis`), p50/p95/p99 per
endpoint, breaker states, cache hit ratio, 429s, time to recover. Nothing may be lost: no
request unanswered, every session logged in before the rolling restart still valid after it,
the catalog's row counts equal before and after.

Output: `--out DIR` (default `docs/load-report/data`; `--smoke` uses a temporary directory)
gets `run.json`, `events.jsonl.gz`, Locust's CSVs; the full run then renders the report
(`bench.load.report`). The smoke run exits 1 on any unexpected failure or lost answer.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import analysis, faults, report
from bench.load.data import sim_accounts
from bench.load.scrape import Scraper
from bench.load.stack import Stack, trusts_proxies
from kensho.store.scratch import scratch_database

ROOT = Path(__file__).resolve().parents[1]
DATABASE = os.environ.get("KENSHO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
DEFAULT_OUT = ROOT / "docs" / "load-report" / "data"


@dataclass(frozen=True)
class Plan:
    users: int
    spawn_rate: float
    accounts: int
    series: int  # catalog size served by the simulator (0 = all)
    baseline: float
    fault: float
    recover: float
    phases: tuple[str, ...]


FULL = Plan(
    30,
    5,
    12,
    0,
    60,
    25,
    30,
    ("upstream-outage", "upstream-errors", "redis", "postgres", "actors", "rolling"),
)
SMOKE = Plan(10, 5, 3, 300, 12, 5, 8, ("upstream-outage",))


def _locust(stack: Stack, plan: Plan, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "KENSHO_LOAD_SHAPE": "steady",
        "KENSHO_LOAD_USERS": str(plan.users),
        "KENSHO_LOAD_SPAWN_RATE": str(plan.spawn_rate),
        "KENSHO_LOAD_SECONDS": str(int(seconds)),
        "KENSHO_LOAD_EVENTS": str(out / "events.jsonl"),
        "KENSHO_LOAD_ADMIN_TOKEN": stack.admin_token,
        "KENSHO_LOAD_ACCOUNTS": str(plan.accounts),
        "KENSHO_LOAD_STOP_FILE": str(out / "stop"),
    }
    if not trusts_proxies():
        # The limit is keyed on the peer: behind HAProxy every client is HAProxy. The abusive
        # clients go to the replicas directly, each from its own loopback address.
        env["KENSHO_LOAD_ABUSE_TARGETS"] = ",".join(stack.replica_url(r) for r in stack.replicas)
        env["KENSHO_LOAD_ABUSE_SOURCES"] = "127.0.0.2,127.0.0.3"
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "locustfile.py"),
        "--headless",
        "--host",
        stack.base,
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with (out / "locust.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


async def _sessions(stack: Stack, count: int) -> list[str]:
    tokens = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            body = {"username": "demo@kensho.dev", "password": "kensho-demo"}
            async with http.post(stack.base + "/api/auth/login", json=body) as resp:
                if resp.status == 200:
                    tokens.append((await resp.json())["token"])
    return tokens


async def _still_valid(stack: Stack, tokens: list[str]) -> int:
    valid = 0
    async with aiohttp.ClientSession() as http:
        for token in tokens:
            auth = {"Authorization": f"Bearer {token}"}
            async with http.get(stack.base + "/api/auth/me", headers=auth) as resp:
                valid += resp.status == 200
    return valid


async def _phase(
    name: str, stack: Stack, plan: Plan, windows: list[analysis.Window], notes: dict[str, Any]
) -> None:
    """Inject one fault for its duration, remove it, keep the recovery window. A fault that
    could not be injected is recorded as such; the run goes on."""
    start = time.time()
    kind = "upstream" if name.startswith("upstream") else name
    detail: dict[str, Any] = {}
    try:
        await _inject(name, stack, plan, detail)
    except Exception as exc:  # a broken injection must not lose the run's other phases
        detail["error"] = f"{type(exc).__name__}: {exc}"
    end = time.time()
    await asyncio.sleep(plan.recover)
    windows.append(analysis.Window(name, kind, start, end, time.time(), detail))
    notes[name] = detail


async def _inject(name: str, stack: Stack, plan: Plan, detail: dict[str, Any]) -> None:
    if name == "upstream-outage":
        await faults.upstream_fault(stack, status=503, error_rate=1.0)
        await asyncio.sleep(plan.fault)
        await faults.clear_upstream_faults(stack)
    elif name == "upstream-errors":
        await faults.upstream_fault(stack, status=503, error_rate=0.3, latency_ms=300)
        await asyncio.sleep(plan.fault)
        await faults.clear_upstream_faults(stack)
    elif name == "redis":
        stack.stop_redis()
        await asyncio.sleep(plan.fault)
        stack.start_redis()
    elif name == "postgres":
        killed = []
        for _ in range(3):
            killed.append(await faults.terminate_connections(stack))
            await asyncio.sleep(plan.fault / 3)
        detail["terminated"] = killed
    elif name == "actors":
        # Every actor but the search index, whose restart rebuilds the index (seconds of CPU):
        # five rebuilds at once on both replicas would measure this 2-core machine, not Kenshō.
        detail["actors"] = [n for n in await faults.actor_names(stack) if n != "search"]
        detail["answers"] = await faults.crash_actors(
            stack, detail["actors"], rounds=5, pause=plan.fault / 5
        )
    elif name == "rolling":
        tokens = await _sessions(stack, 8)
        detail["steps"] = await stack.rolling_restart()
        detail["sessions_before"] = len(tokens)
        detail["sessions_after"] = await _still_valid(stack, tokens)
    else:
        raise ValueError(f"unknown phase {name!r}")


def run(plan: Plan, out: Path) -> dict[str, Any]:
    """Run `plan` against a fresh stack; its data goes to `out`. The result (`run.json`)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*"):
        if stale.is_file():
            stale.unlink()
    workdir = Path(tempfile.mkdtemp(prefix="kensho-chaos-"))
    with scratch_database(DATABASE, "kensho_chaos") as dsn:
        drive = asyncio.run(_drive(plan, out, dsn, workdir))
    events = _read_events(out / "events.jsonl")
    windows: list[analysis.Window] = drive.pop("windows")
    scrapes: list[dict[str, Any]] = drive.pop("scrapes")
    times = drive.pop("times")
    warmup = min(15.0, plan.baseline / 2)
    result = analysis.summarise(events, windows, scrapes, *times, warmup=warmup)
    before, after = drive.pop("before"), drive.pop("after")
    result |= drive | {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result["phases"][0]["start"])),
        "machine": _machine(),
        "plan": asdict(plan),
        "times": {
            "load_start": times[0],
            "baseline_end": times[1],
            "load_end": times[2],
            "warmup": warmup,
        },
        "catalog_rows": {
            "before": before,
            "after": after,
            "lost": {t: before[t] - after.get(t, 0) for t in before if after.get(t, 0) < before[t]},
        },
        "workdir": str(workdir),
    }
    (out / "run.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "scrapes.json").write_text(json.dumps(scrapes) + "\n")
    for name in ("events.jsonl", "locust_stats_history.csv"):  # the big ones, compressed
        with (out / name).open("rb") as src, gzip.open(out / f"{name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        (out / name).unlink()
    (out / "locust_exceptions.csv").unlink(missing_ok=True)
    shutil.move(out / "locust.log", workdir / "locust.log")  # warnings: for debugging only
    return result


async def _drive(plan: Plan, out: Path, dsn: str, workdir: Path) -> dict[str, Any]:
    """Start the stack, load it, inject the plan's faults; what happened, for `run`."""
    windows: list[analysis.Window] = []
    notes: dict[str, Any] = {}
    stack = Stack(workdir, dsn, sim_accounts(plan.accounts), series=plan.series)
    scraper = Scraper(stack)
    locust: subprocess.Popen[bytes] | None = None
    stop = out / "stop"
    try:
        t_stack = time.monotonic()
        await stack.start()
        stack_s = time.monotonic() - t_stack
        before = await asyncio.to_thread(faults.catalog_counts, dsn)
        scraper.start()
        seconds = plan.baseline + len(plan.phases) * (plan.fault + plan.recover + 60) + 60
        load_start = time.time()
        locust = _locust(stack, plan, out, seconds)
        await asyncio.sleep(plan.baseline)
        baseline_end = time.time()
        for name in plan.phases:
            await _phase(name, stack, plan, windows, notes)
        load_end = time.time()
        await asyncio.to_thread(stop.touch)  # the shape ends the run: Locust writes its CSVs
        locust_status = await asyncio.to_thread(locust.wait, 90)
        await asyncio.to_thread(stop.unlink)
        await scraper.stop()
        after = await asyncio.to_thread(faults.catalog_counts, dsn)
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
        await scraper.stop()
        await stack.stop()
    return {
        "windows": windows,
        "scrapes": scraper.records,
        "times": (load_start, baseline_end, load_end),
        "before": before,
        "after": after,
        "notes": notes,
        "stack": {
            "replicas": len(stack.replicas),
            "haproxy": True,
            "startup_s": round(stack_s, 1),
            "trusted_proxies": trusts_proxies(),
            "rate_limit": list(stack.rate_limit),
            "catalog_series": plan.series or "all",
        },
        "replica_restarts": stack.restarts,
        "locust_exit": locust_status,
    }


def _read_events(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next(
        (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "model": model,
        "python": platform.python_version(),
        "load_avg_at_start": os.getloadavg()[0],
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    }


def smoke_verdict(result: dict[str, Any]) -> list[str]:
    """What fails the CI smoke run: unexpected failures, unanswered requests, lost rows."""
    problems = []
    total = result["total"]
    if total["requests"] == 0:
        problems.append("no requests were made")
    if total["unexpected"]:
        problems.append(f"{total['unexpected']} unexpected failures: {total['failures_by_status']}")
    if total["unanswered"]:
        problems.append(f"{total['unanswered']} requests got no answer")
    if result["catalog_rows"]["lost"]:
        problems.append(f"catalog rows lost: {result['catalog_rows']['lost']}")
    for phase in result["phases"]:
        if phase["kind"] != "none" and phase["recovery_s"] is None:
            problems.append(f"{phase['name']}: did not recover")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="CI: ~20 s, few users, one fault")
    parser.add_argument("--out", type=Path, help="where the run's data goes")
    parser.add_argument("--phases", help=f"comma-separated subset of {','.join(FULL.phases)}")
    args = parser.parse_args(argv)
    # SIGTERM (and SIGINT, ignored in background jobs) end the run through its clean-up:
    # replicas, HAProxy, Redis, the simulator and Locust stopped, the scratch database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    plan = SMOKE if args.smoke else FULL
    if args.phases:
        plan = replace(plan, phases=tuple(p for p in args.phases.split(",") if p))
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="kensho-smoke-")) if args.smoke else DEFAULT_OUT
    )
    result = run(plan, out)
    summary = {k: result[k] for k in ("date", "total", "catalog_rows", "replica_restarts")}
    summary["phases"] = [
        {
            k: p[k]
            for k in (
                "name",
                "requests",
                "documented",
                "unexpected",
                "unanswered",
                "recovery_s",
                "breaker",
                "cache_hit_ratio",
                "failures_by_status",
            )
        }
        for p in result["phases"]
    ]
    print(json.dumps(summary, indent=1))
    print(f"data in {out}")
    if args.smoke:
        problems = smoke_verdict(result)
        for problem in problems:
            print(f"SMOKE FAILED: {problem}", file=sys.stderr)
        return 1 if problems else 0
    report.render(out, ROOT / "docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
