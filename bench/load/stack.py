"""The full stack the chaos run loads: a Redis of its own, the simulator in its own process,
two `kensho serve` replicas on a scratch database of the machine's PostgreSQL, and HAProxy in
front with the compose configuration (the helpers of `bench.rollout`, which runs the same
fleet for the rollout bench).

The stack plays the orchestrator too: a replica that exits when nobody asked it to (a
supervisor that gave up, a crash) is started again on its address, and the restart is
recorded, as Kubernetes would restart the pod.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import free_port
from bench.rollout import (
    Replica,
    _get,
    _haproxy,
    _haproxy_up,
    _spawn,
    _start,
    _until,
    haproxy_config,
)
from kensho.config import Config

__all__ = ["Stack", "trusts_proxies"]

SESSION_KEY = "mnVTUbWj0YUsLm5LPdmEEOyRiNXhOwqkAYqUZSTcuQQ="


def trusts_proxies() -> bool:
    """Whether this Kenshō reads `X-Forwarded-For` from trusted proxies (issue 13); before
    that the rate limit is keyed on the peer address, which behind HAProxy is HAProxy's."""
    return "trusted_proxies" in getattr(Config, "__dataclass_fields__", {})


def _spawn_with(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=os.environ | env)


@dataclass
class Stack:
    workdir: Path
    database_url: str
    accounts: str
    series: int = 0
    replicas_count: int = 2
    prestop: float = 3.0
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    rate_limit: tuple[float, int] = (50.0, 50)
    redis_port: int = field(default_factory=free_port)
    sim_port: int = field(default_factory=free_port)
    lb_port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    replicas: list[Replica] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)
    rolling: bool = False
    _redis: subprocess.Popen[bytes] | None = None
    _sim: subprocess.Popen[bytes] | None = None
    _haproxy: subprocess.Popen[bytes] | None = None
    _watch: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def replica_url(self, replica: Replica) -> str:
        return f"http://127.0.0.1:{replica.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")} | {
            "KENSHO_HOST": "127.0.0.1",
            "KENSHO_DATABASE_URL": self.database_url,
            "KENSHO_REDIS_URL": self.redis_url,
            "KENSHO_UPSTREAM_URL": self.sim_url,
            "KENSHO_DATA_DIR": str(self.workdir / "data"),
            "KENSHO_PRESTOP_DELAY": str(self.prestop),
            "KENSHO_SHUTDOWN_TIMEOUT": "10",
            "KENSHO_READY_CACHE_SECONDS": "0.5",
            "KENSHO_SESSION_ENCRYPTION_KEY": SESSION_KEY,
            "KENSHO_CURSOR_SECRET": "kensho-chaos-cursor-secret-0123456789",
            "KENSHO_CATALOG_SYNC_INTERVAL": "0",
            "KENSHO_ADMIN_TOKEN": self.admin_token,
            "KENSHO_RATE_LIMIT_RPS": str(self.rate_limit[0]),
            "KENSHO_RATE_LIMIT_BURST": str(self.rate_limit[1]),
            "KENSHO_LOG_LEVEL": "WARNING",
        }
        if trusts_proxies():
            env["KENSHO_TRUSTED_PROXIES"] = "127.0.0.1"
        return env

    # -- Redis ---------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self._redis = _spawn(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            self.workdir / f"redis.{time.monotonic_ns()}.log",
        )

    def stop_redis(self) -> None:
        if self._redis is not None and self._redis.poll() is None:
            self._redis.send_signal(signal.SIGTERM)
            self._redis.wait(timeout=20)

    async def redis_up(self) -> bool:
        proc = await asyncio.create_subprocess_exec(
            "redis-cli",
            "-p",
            str(self.redis_port),
            "ping",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    # -- the whole stack -----------------------------------------------------------------------
    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        argv = [
            sys.executable,
            "-m",
            "kensho",
            "sim",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.sim_port),
        ]
        if self.series:
            argv += ["--series", str(self.series)]
        self._sim = _spawn_with(
            argv, self.workdir / "sim.log", {"KENSHO_SIM_ACCOUNTS": self.accounts}
        )
        await _until(self.redis_up, "redis", 30)
        await _until(self._sim_up, "the simulator", 120)
        env = self.env()
        self.replicas = [
            Replica(f"kensho-{i + 1}", free_port(), env, self.workdir)
            for i in range(self.replicas_count)
        ]
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(
            haproxy_config(self.lb_port, self.stats_port, {r.name: r.port for r in self.replicas})
        )
        self._haproxy = _spawn([_haproxy(), "-db", "-f", str(cfg)], self.workdir / "haproxy.log")
        for replica in self.replicas:  # the first syncs the catalog, the next finds it loaded
            await _start(replica, 600)
        for replica in self.replicas:
            await _until(_haproxy_up(self.stats_port, replica.name), f"{replica.name} UP", 30)
        self._watch = asyncio.create_task(self._orchestrate())

    async def _sim_up(self) -> bool:
        return (await _get(self.sim_url + "/_sim/stats"))[0] == 200

    async def _orchestrate(self) -> None:
        """Restart a replica that exited unasked (not during a rolling restart's own stop)."""
        while True:
            await asyncio.sleep(0.5)
            if self.rolling:
                continue
            for replica in self.replicas:
                if replica.proc is not None and replica.proc.poll() is not None:
                    status = replica.proc.returncode
                    t0 = time.time()
                    try:
                        await _start(replica, 120)
                        outcome = "restarted"
                    except RuntimeError as exc:
                        outcome = f"failed: {exc}"
                    self.restarts.append(
                        {
                            "replica": replica.name,
                            "exit_status": status,
                            "at": t0,
                            "ready_s": round(time.time() - t0, 2),
                            "outcome": outcome,
                        }
                    )

    async def rolling_restart(self) -> list[dict[str, Any]]:
        """SIGTERM each replica in turn, wait for its exit, start its successor on its address
        and wait until HAProxy marks it up, as `bench.rollout` does."""
        steps = []
        self.rolling = True
        try:
            for replica in self.replicas:
                t0 = time.monotonic()
                status, drain = await asyncio.to_thread(replica.terminate, self.prestop + 40)
                ready = await _start(replica, 120)
                await _until(_haproxy_up(self.stats_port, replica.name), f"{replica.name} UP", 30)
                steps.append(
                    {
                        "replica": replica.name,
                        "exit_status": status,
                        "drain_s": round(drain, 2),
                        "new_ready_s": round(ready, 2),
                        "back_in_rotation_s": round(time.monotonic() - t0, 2),
                    }
                )
        finally:
            self.rolling = False
        return steps

    async def all_up(self) -> bool:
        checks = [_haproxy_up(self.stats_port, r.name)() for r in self.replicas]
        return all(await asyncio.gather(*checks))

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for replica in self.replicas:
            replica.kill()
        for proc in (self._haproxy, self._sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        self.stop_redis()
