"""Zero-downtime rollout, measured: failed requests and latency while replicas restart.

Two `kensho serve` replicas on one PostgreSQL, one Redis and one simulator process, behind a real
HAProxy running the compose configuration (`config/haproxy/haproxy.cfg`: health checks on
/health/ready every second, down after two failures, retries only for requests that never
reached a replica). A steady load (an aiohttp client in this process: detail, list and search
requests at a fixed rate over keep-alive connections) runs throughout. Then a rolling restart as
Kubernetes does it with a fixed set of addresses: SIGTERM to one replica, wait for it to drain
and exit, start its replacement on the same address (restarted if it fails to start, as an
orchestrator would), wait until HAProxy marks it up, then the next one. Variants differ in
`KENSHO_PRESTOP_DELAY` and in whether HAProxy may retry a request that never reached a replica,
so one run shows what each buys: "3:retry" is the compose setup; "3:plain" and "0:plain" a
balancer that forwards each request once, as kube-proxy does.

Result per variant: requests and failures (non-2xx or connection errors, by request kind and
error) before, during and after the roll, latency p50/p99/max, each old replica's exit status
and drain time, each new one's time to ready. Target: 0 failed requests.

Uses `KENSHO_TEST_DATABASE_URL` (a server DSN; a scratch database is created and dropped) and
`KENSHO_TEST_REDIS_URL` (keys under a random prefix, deleted after), defaulting to the machine's
services, and `haproxy` from PATH (Debian package). `python -m bench rollout` / `make rollout`.
Knobs: BENCH_ROLLOUT_RPS (default 150), BENCH_ROLLOUT_WORKERS (16), BENCH_ROLLOUT_STEADY (5 s
before and after the roll), BENCH_ROLLOUT_VARIANTS (default "3:retry,3:plain,0:plain").
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bench.loadgen import free_port
from kensho.store.scratch import scratch_database

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CFG = ROOT / "config" / "haproxy" / "haproxy.cfg"
RPS = float(os.environ.get("BENCH_ROLLOUT_RPS", "150"))
WORKERS = int(os.environ.get("BENCH_ROLLOUT_WORKERS", "16"))
STEADY = float(os.environ.get("BENCH_ROLLOUT_STEADY", "5"))
#: (KENSHO_PRESTOP_DELAY, HAProxy retries on?) per variant: "3:retry" is the compose setup,
#: "plain" a balancer that never retries (kube-proxy does not), where only the drain helps.
VARIANTS = tuple(
    (float(delay), mode == "retry")
    for delay, _, mode in (
        item.partition(":")
        for item in os.environ.get("BENCH_ROLLOUT_VARIANTS", "3:retry,3:plain,0:plain").split(",")
    )
)
SHUTDOWN_TIMEOUT = 10.0
DATABASE = os.environ.get("KENSHO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("KENSHO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def haproxy_config(
    lb_port: int, stats_port: int, servers: dict[str, int], *, retries: bool = True
) -> str:
    """The compose balancer's configuration, on loopback ports and fixed server addresses.

    Everything that decides a request's fate (checks, timeouts, retries, redispatch) is kept
    as committed; only the addresses change, the DNS resolver goes (no Docker DNS here) and a
    stats listener is added so the bench can see when HAProxy marks a replica up.
    `retries=False` turns retries and redispatch off: a balancer that forwards each request once.
    """
    text = HAPROXY_CFG.read_text()
    if not retries:
        text = re.sub(r"^\s*(retry-on|option redispatch) .*$\n?", "", text, flags=re.M)
        text = re.sub(r"^(\s*)retries \d+", r"\1retries 0", text, flags=re.M)
    text = re.sub(r"^\s*log stdout.*$", "", text, flags=re.M)
    text = text.replace("bind :8080", f"bind 127.0.0.1:{lb_port}")
    text = text.replace("bind :8404", f"bind 127.0.0.1:{free_port()}")
    text = re.sub(r"^resolvers docker\n(?:\s+.*\n?)*", "", text, flags=re.M)
    text = re.sub(r"^\s*server .*$\n?", "", text, flags=re.M)
    lines = "".join(f"    server {n} 127.0.0.1:{p} check\n" for n, p in servers.items())
    # default-server applies to the servers declared after it.
    text = re.sub(
        r"^(\s*default-server .*\n)", lambda m: m.group(1) + lines, text, count=1, flags=re.M
    )
    stats = f"frontend stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n"
    return text.rstrip() + "\n\n" + stats + "    stats uri /stats\n"


@dataclass
class Replica:
    """One `kensho serve` process on a fixed port; `replace()` starts its successor there."""

    name: str
    port: int
    env: dict[str, str]
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    generation: int = 0

    def start(self) -> None:
        self.generation += 1
        log = self.logs / f"{self.name}.{self.generation}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kensho", "serve"],
                stdout=out,
                stderr=out,
                env=self.env | {"KENSHO_PORT": str(self.port)},
            )

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM, then wait for the exit: (status, seconds to exit)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=timeout)
        return status, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Load:
    """A fixed request rate over `workers` keep-alive clients; every outcome is recorded."""

    base: str
    ids: list[str]
    records: list[tuple[float, float, str]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def _path(self, rng: random.Random) -> tuple[str, str]:
        """(what kind of request, its path): failures are counted per kind."""
        pick = rng.random()
        if pick < 0.7:
            return "anime", f"/api/anime/{rng.choice(self.ids)}"
        if pick < 0.9:
            sort = rng.choice(["popularity", "rating", "title"])
            return "browse", f"/api/anime?limit=20&sort={sort}"
        q = rng.choice(["naruto", "one piece", "attack", "spy", "hero"])
        return "search", f"/api/search?q={q}"

    async def run(self, workers: int, rps: float) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=workers)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            await asyncio.gather(*(self._worker(http, i, workers / rps) for i in range(workers)))

    async def _worker(self, http: aiohttp.ClientSession, seed: int, period: float) -> None:
        rng = random.Random(seed)
        next_at = time.monotonic() + rng.random() * period
        while not self.stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += period
            kind, path = self._path(rng)
            t0 = time.monotonic()
            try:
                async with http.get(self.base + path) as resp:
                    await resp.read()
                    outcome = "ok" if resp.status < 400 else f"{kind}: http-{resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = f"{kind}: {type(exc).__name__}"
            self.records.append((t0, time.monotonic() - t0, outcome))


def _phase(records: list[tuple[float, float, str]], start: float, end: float) -> dict[str, Any]:
    inside = [r for r in records if start <= r[0] < end]
    latencies = sorted(r[1] for r in inside)
    failures = Counter(r[2] for r in inside if r[2] != "ok")
    if not latencies:
        return {"requests": 0, "failed": 0}
    return {
        "seconds": round(end - start, 2),
        "requests": len(inside),
        "rps": round(len(inside) / (end - start), 1),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


async def _get(url: str) -> tuple[int, str]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
            http.get(url) as resp,
        ):
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError):
        return 0, ""


async def _until(
    predicate: Any, what: str, seconds: float, replica: Replica | None = None
) -> float:
    """Poll `predicate()` every 0.1 s; the seconds it took. A replica that dies fails it."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if replica is not None and replica.proc is not None and replica.proc.poll() is not None:
            raise RuntimeError(f"{replica.name} exited ({replica.proc.returncode}) before {what}")
        if await predicate():
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise RuntimeError(f"timed out after {seconds:g}s waiting for {what}")


async def _start(replica: Replica, seconds: float) -> float:
    """Start `replica` and wait until it is ready; the seconds it took. A replica that exits
    first fails the run: start-up no longer waits for the search index (built after start),
    so a loaded machine cannot make it overrun a start budget."""
    t0 = time.monotonic()
    replica.start()
    await _until(lambda: _ready(replica), f"{replica.name} ready", seconds, replica)
    return time.monotonic() - t0


async def _ready(replica: Replica) -> bool:
    return (await _get(f"http://127.0.0.1:{replica.port}/health/ready"))[0] == 200


def _haproxy_up(stats_port: int, name: str) -> Any:
    async def check() -> bool:
        status, text = await _get(f"http://127.0.0.1:{stats_port}/stats;csv")
        for line in text.splitlines():
            cols = line.split(",")
            if status == 200 and len(cols) > 17 and cols[0] == "kensho" and cols[1] == name:
                return cols[17] == "UP"
        return False

    return check


async def _variant(
    prestop: float, retries: bool, database_url: str, workdir: Path, sim_url: str
) -> dict[str, Any]:
    prefix = f"kensho-bench:rollout:{secrets.token_hex(4)}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")} | {
        "KENSHO_HOST": "127.0.0.1",
        "KENSHO_DATABASE_URL": database_url,
        "KENSHO_REDIS_URL": REDIS,
        "KENSHO_REDIS_PREFIX": prefix,
        "KENSHO_CACHE_PREFIX": prefix + "cache:",
        "KENSHO_UPSTREAM_URL": sim_url,
        "KENSHO_DATA_DIR": str(workdir / "data"),
        "KENSHO_PRESTOP_DELAY": str(prestop),
        "KENSHO_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "KENSHO_READY_CACHE_SECONDS": "0.5",
        "KENSHO_SESSION_ENCRYPTION_KEY": "mnVTUbWj0YUsLm5LPdmEEOyRiNXhOwqkAYqUZSTcuQQ=",
        "KENSHO_CURSOR_SECRET": secrets.token_urlsafe(24),
        "KENSHO_CATALOG_SYNC_INTERVAL": "0",
    }
    logs = workdir / f"logs-prestop-{prestop:g}-{'retry' if retries else 'plain'}"
    logs.mkdir(parents=True)
    replicas = [Replica(f"kensho-{i}", free_port(), env, logs) for i in (1, 2)]
    lb_port, stats_port = free_port(), free_port()
    cfg = logs / "haproxy.cfg"
    ports = {r.name: r.port for r in replicas}
    cfg.write_text(haproxy_config(lb_port, stats_port, ports, retries=retries))
    haproxy = _spawn([_haproxy(), "-db", "-f", str(cfg)], logs / "haproxy.log")
    load: Load | None = None
    load_task: asyncio.Task[None] | None = None
    try:
        for replica in replicas:  # one at a time: the first loads the catalog, then the second
            await _start(replica, 300)
        for replica in replicas:
            await _until(_haproxy_up(stats_port, replica.name), f"{replica.name} UP", 30)
        base = f"http://127.0.0.1:{lb_port}"
        status, body = await _get(base + "/api/anime?limit=100&sort=popularity")
        assert status == 200, (status, body[:300])
        ids = [item["id"] for item in json.loads(body)["items"]]
        load = Load(base, ids)
        load_task = asyncio.create_task(load.run(WORKERS, RPS))
        await asyncio.sleep(STEADY)
        roll_start = time.monotonic()
        steps = []
        for replica in replicas:
            t0 = time.monotonic()
            status_code, drain = await asyncio.to_thread(
                replica.terminate, prestop + 2 * SHUTDOWN_TIMEOUT + 30
            )
            ready = await _start(replica, 120)
            await _until(_haproxy_up(stats_port, replica.name), f"{replica.name} UP", 30)
            steps.append(
                {
                    "replica": replica.name,
                    "exit_status": status_code,
                    "drain_s": round(drain, 2),
                    "new_ready_s": round(ready, 2),
                    "back_in_rotation_s": round(time.monotonic() - t0, 2),
                }
            )
        roll_end = time.monotonic()
        await asyncio.sleep(STEADY)
        load.stop.set()
        await load_task
        end = time.monotonic()
        records = load.records
        return {
            "prestop_delay_s": prestop,
            "haproxy_retries": retries,
            "requests": len(records),
            "failed": sum(1 for r in records if r[2] != "ok"),
            "phases": {
                "before": _phase(records, roll_start - STEADY, roll_start),
                "roll": _phase(records, roll_start, roll_end),
                "after": _phase(records, roll_end, end),
            },
            "steps": steps,
        }
    finally:
        if load is not None:
            load.stop.set()
        if load_task is not None and not load_task.done():
            load_task.cancel()
        for replica in replicas:
            replica.kill()
        haproxy.terminate()
        haproxy.wait(timeout=10)
        await _delete_keys(prefix)


async def _delete_keys(prefix: str) -> None:

    client = Redis.from_url(REDIS)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _run() -> dict[str, Any]:

    workdir = Path(tempfile.mkdtemp(prefix="kensho-rollout-"))
    sim_port = free_port()
    sim = _spawn(
        [sys.executable, "-m", "kensho", "sim", "--host", "127.0.0.1", "--port", str(sim_port)],
        workdir / "sim.log",
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    try:
        await _until(lambda: _sim_up(sim_url), "the simulator", 120)
        variants = []
        for prestop, retries in VARIANTS:
            with scratch_database(DATABASE, "kensho_rollout") as dsn:
                variants.append(await _variant(prestop, retries, dsn, workdir, sim_url))
        return {
            "replicas": 2,
            "target_rps": RPS,
            "workers": WORKERS,
            "shutdown_timeout_s": SHUTDOWN_TIMEOUT,
            "haproxy": _haproxy_version(),
            "variants": variants,
            "logs": str(workdir),
        }
    finally:
        sim.terminate()
        sim.wait(timeout=30)


async def _sim_up(url: str) -> bool:
    return (await _get(url + "/_sim/stats"))[0] == 200


def _haproxy() -> str:
    for path in (shutil.which("haproxy"), "/usr/sbin/haproxy"):
        if path and Path(path).exists():
            return path
    raise RuntimeError("haproxy not found: apt-get install -y haproxy")


def _haproxy_version() -> str:
    out = subprocess.run([_haproxy(), "-v"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def main() -> dict[str, Any]:
    return asyncio.run(_run())


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
