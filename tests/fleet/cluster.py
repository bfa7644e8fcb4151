"""A fleet of real processes: one `kensho sim`, N `kensho serve` replicas, one database, one Redis.

Every replica gets the same secrets (admin token, cursor secret, session key), the same
PostgreSQL database (a scratch one per fleet), the same Redis key prefix (unique per fleet) and
the same upstream (the fleet's simulator); each has its own port (0: the server picks one and
says it in its `listening` log line), data dir and log file. Readiness is polled, never slept.

Used through the `make_fleet` fixture (`tests/fleet/conftest.py`):

    async with make_fleet(replicas=2) as fleet:
        a, b = fleet.replicas
        status, body = await a.admin("GET", "/admin/actors")
        a.kill()                    # SIGKILL, no drain
        await a.restart()           # same env, new process (and a new port)
        calls = await fleet.sim.calls("/content/v2/discover/browse")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2
import redis.asyncio as aioredis
from serverproc import measured_env

from kensho.store.scratch import create_scratch_database

__all__ = ["Fleet", "MakeFleet", "Replica", "Simulator", "fleet", "wait_until"]

#: the simulator's catalog in fleet tests: 3 browse pages of 100, a sync in a second or two
SERIES = 250
#: shared by every replica of a fleet (a Fernet key; not a secret: test-only)
SESSION_KEY = "mnVTUbWj0YUsLm5LPdmEEOyRiNXhOwqkAYqUZSTcuQQ="
START_SECONDS = 90.0


async def wait_until(
    probe: Any, *, seconds: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `await probe()` until it returns something truthy; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)


def _spawn_log(path: Path) -> Any:
    return path.open("ab")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


async def _port_from_log(path: Path, proc: asyncio.subprocess.Process, seconds: float) -> int:
    """The port of the first `{"event": "listening", ...}` JSON line written to `path`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in _text(path).splitlines():
            if '"event": "listening"' in line or '"event":"listening"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    return int(json.loads(line)["port"])
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    tail = _text(path)[-4000:]
    raise AssertionError(f"{path.name}: no listening line (exit {proc.returncode}):\n{tail}")


class _Process:
    """A child process with its log file; stop helpers that always reap it."""

    log: Path
    proc: asyncio.subprocess.Process | None = None
    port: int = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def read_log(self) -> str:
        return _text(self.log)

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines whose `event` is `event` (structured logging of `kensho serve`)."""
        out = []
        for line in self.read_log().splitlines():
            if f'"{event}"' not in line:
                continue
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict) and doc.get("event") == event:
                    out.append(doc)
        return out

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup (a crashed replica). `await wait()` to reap it."""
        self.signal(signal.SIGKILL)

    async def wait(self, seconds: float = 30.0) -> int:
        """The exit status (reaps the process); TimeoutError after `seconds`."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), seconds)

    async def terminate(self, seconds: float = 30.0) -> int:
        """SIGTERM and wait for the exit status (SIGKILL when it overruns `seconds`)."""
        if self.proc is None:
            return 0
        self.signal(signal.SIGTERM)
        try:
            return await self.wait(seconds)
        except TimeoutError:
            self.kill()
            await self.wait()
            raise AssertionError(f"{self.log.name}: no exit {seconds}s after SIGTERM") from None

    async def _ensure_dead(self) -> None:
        if self.running:
            self.kill()
        if self.proc is not None:
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await self.wait(10)


@dataclass
class Simulator(_Process):
    """The fleet's one upstream: `kensho sim --series N` on a free port."""

    log: Path
    series: int = SERIES
    proc: asyncio.subprocess.Process | None = None
    port: int = 0

    async def start(self) -> None:
        argv = [sys.executable, "-m", "kensho", "sim", "--port", "0"]
        argv += ["--series", str(self.series)]
        with _spawn_log(self.log) as out:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdout=out, stderr=out, env=_clean_env()
            )
        self.port = await _port_from_log(self.log, self.proc, START_SECONDS)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base_url + path, json=body) as resp,
        ):
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json() if resp.status != 204 else None

    async def stats(self) -> dict[str, Any]:
        """`GET /_sim/stats`: requests per route template and status."""
        stats: dict[str, Any] = await self._call("GET", "/_sim/stats")
        return stats

    async def calls(self, route: str) -> int:
        """Requests the simulator received on one route template, e.g.
        `/content/v2/discover/browse` or `/content/v2/cms/seasons/{season_id}/episodes`."""
        return int((await self.stats())["paths"].get(route, {}).get("count", 0))

    async def reset_stats(self) -> None:
        await self._call("DELETE", "/_sim/stats")

    async def add_fault(self, **fault: Any) -> dict[str, Any]:
        """`POST /_sim/faults` (e.g. `path_prefix=..., latency_ms=...`: docs/simulator.md)."""
        added: dict[str, Any] = await self._call("POST", "/_sim/faults", fault)
        return added

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_sim/faults")


@dataclass
class Replica(_Process):
    """One `kensho serve` process of the fleet. `restart()` reuses its environment."""

    name: str
    log: Path
    env: dict[str, str]
    admin_token: str
    proc: asyncio.subprocess.Process | None = None
    port: int = 0
    starts: int = 0
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def start(self, *, ready: bool = True) -> None:
        """Start the process and wait for its port (and, by default, for readiness)."""
        assert not self.running, f"{self.name} is already running"
        self.starts += 1
        self.log = self.log.with_name(f"{self.name}.{self.starts}.log")
        with _spawn_log(self.log) as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kensho", "serve", stdout=out, stderr=out, env=self.env
            )
        self.port = await _port_from_log(self.log, self.proc, START_SECONDS)
        if ready:
            await self.wait_ready()

    async def restart(self, *, ready: bool = True) -> None:
        """Stop (SIGTERM, or reap a killed process) and start again with the same settings."""
        if self.running:
            await self.terminate()
        else:
            await self._ensure_dead()
        await self.start(ready=ready)

    async def wait_ready(self, seconds: float = START_SECONDS) -> None:
        """Poll `/health/ready` until 200 (the catalog is loaded and search is published)."""

        async def ready() -> bool:
            assert self.running, (
                f"{self.name} exited {self.proc and self.proc.returncode}:\n"
                + (self.read_log()[-4000:])
            )
            status, _ = await self.request("GET", "/health/ready")
            return status == 200

        await wait_until(ready, seconds=seconds, interval=0.1, what=f"{self.name} ready")

    def session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; returns (status, parsed JSON or text). Connection errors → (0, error)."""
        try:
            async with self.session().request(
                method, self.base_url + path, json=json_body, headers=dict(headers or {})
            ) as resp:
                text = await resp.text()
                try:
                    return resp.status, json.loads(text) if text else None
                except ValueError:
                    return resp.status, text
        except aiohttp.ClientError as exc:
            return 0, repr(exc)

    async def admin(self, method: str, path: str, *, json_body: Any = None) -> tuple[int, Any]:
        """A request with the fleet's admin token."""
        auth = {"Authorization": f"Bearer {self.admin_token}"}
        return await self.request(method, path, json_body=json_body, headers=auth)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        await self._ensure_dead()


@dataclass
class Fleet:
    """The simulator, the replicas and the shared stores of one fleet."""

    sim: Simulator
    replicas: list[Replica]
    database_url: str
    redis_url: str
    redis_prefix: str
    admin_token: str
    workdir: Path

    async def start(self, *, ready: bool = True) -> None:
        """Start every replica at once (concurrently: they race as a real rollout does)."""
        await asyncio.gather(*(r.start(ready=ready) for r in self.replicas if not r.running))

    async def wait_ready(self) -> None:
        await asyncio.gather(*(r.wait_ready() for r in self.replicas))

    async def wait_synced(self, seconds: float = 90.0) -> None:
        """Until a catalog sync completed and none runs (readiness only means "loaded": a
        replica is ready once the first page of the first sync is in)."""

        async def synced() -> bool:
            rows = await self.query(
                "SELECT bool_or(status = 'complete'), bool_or(status = 'running') "
                "FROM catalog_sync_runs"
            )
            return bool(rows and rows[0][0] and not rows[0][1])

        await wait_until(synced, seconds=seconds, what="a complete catalog sync")

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the fleet's database (its own connection) and fetch the rows."""
        conn = psycopg2.connect(self.database_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    async def query(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """`sql` off the loop."""
        return await asyncio.to_thread(self.sql, query, params)

    def redis(self) -> aioredis.Redis:
        """A new client on the fleet's Redis (close it); keys live under `redis_prefix`."""
        client: aioredis.Redis = aioredis.from_url(self.redis_url)
        return client

    def logs(self) -> str:
        """Every log of the fleet, for assertion messages."""
        parts = [f"--- sim ---\n{self.sim.read_log()[-3000:]}"]
        parts += [f"--- {r.name} ---\n{r.read_log()[-6000:]}" for r in self.replicas]
        return "\n".join(parts)


def _prepare(workdir: Path, server_dsn: str) -> tuple[str, Callable[[], None]]:
    workdir.mkdir(parents=True, exist_ok=True)
    return create_scratch_database(server_dsn, "kensho_fleet")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}


def replica_env(
    workdir: Path,
    name: str,
    *,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    upstream_url: str,
    admin_token: str,
    cursor_secret: str,
    settings: Mapping[str, str],
) -> dict[str, str]:
    """The environment of one replica: the fleet's shared settings plus its own data dir."""
    return (
        _clean_env()
        | measured_env()
        | {
            "KENSHO_HOST": "127.0.0.1",
            "KENSHO_PORT": "0",
            "KENSHO_DATA_DIR": str(workdir / name / "data"),
            "KENSHO_DATABASE_URL": database_url,
            "KENSHO_REDIS_URL": redis_url,
            "KENSHO_REDIS_PREFIX": redis_prefix,
            "KENSHO_CACHE_PREFIX": redis_prefix + "cache:",
            "KENSHO_UPSTREAM_URL": upstream_url,
            "KENSHO_ADMIN_TOKEN": admin_token,
            "KENSHO_CURSOR_SECRET": cursor_secret,
            "KENSHO_SESSION_ENCRYPTION_KEY": SESSION_KEY,
            "KENSHO_PRESTOP_DELAY": "0",
            "KENSHO_SHUTDOWN_TIMEOUT": "5",
            "KENSHO_READY_CACHE_SECONDS": "0",
            "KENSHO_CATALOG_WARM_COUNT": "20",
            "KENSHO_DB_POOL_MAX": "4",
            "KENSHO_REDIS_POOL_MAX": "8",
        }
        | dict(settings)
    )


@asynccontextmanager
async def fleet(
    workdir: Path,
    server_dsn: str,
    redis_url: str,
    *,
    replicas: int = 2,
    series: int = SERIES,
    start: bool = True,
    ready: bool = True,
    settings: Mapping[str, str] | None = None,
    per_replica: Mapping[str, Mapping[str, str]] | None = None,
) -> AsyncIterator[Fleet]:
    """Start a fleet (a scratch database, a Redis prefix, the simulator, `replicas` servers).

    `start=False` leaves the replicas stopped (`await fleet.start()` later); `ready=False`
    returns once they listen, before readiness. `settings` go to every replica,
    `per_replica[name]` (names `a`, `b`, `c`…) to one. Everything is stopped, the database
    dropped and the Redis keys deleted on exit.
    """
    database_url, drop = await asyncio.to_thread(_prepare, workdir, server_dsn)
    prefix = f"kensho-test:fleet-{secrets.token_hex(6)}:"
    token = secrets.token_urlsafe(24)
    cursor_secret = secrets.token_urlsafe(24)
    sim = Simulator(log=workdir / "sim.log", series=series)
    members: list[Replica] = []
    try:
        await sim.start()
        for i in range(replicas):
            name = "abcdefgh"[i]
            env = replica_env(
                workdir,
                name,
                database_url=database_url,
                redis_url=redis_url,
                redis_prefix=prefix,
                upstream_url=sim.base_url,
                admin_token=token,
                cursor_secret=cursor_secret,
                settings={**(settings or {}), **(per_replica or {}).get(name, {})},
            )
            members.append(Replica(name, workdir / f"{name}.log", env, token))
        the_fleet = Fleet(sim, members, database_url, redis_url, prefix, token, workdir)
        if start:
            await the_fleet.start(ready=ready)
        yield the_fleet
    finally:
        await asyncio.gather(
            *(r.terminate(10) for r in members if r.running), return_exceptions=True
        )
        for r in members:
            await r.close()
        await sim._ensure_dead()
        client: aioredis.Redis = aioredis.from_url(redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
        await asyncio.to_thread(drop)


#: the `make_fleet` fixture: `async with make_fleet(**kw) as fleet` (keywords of `fleet`)
MakeFleet = Callable[..., AbstractAsyncContextManager[Fleet]]
