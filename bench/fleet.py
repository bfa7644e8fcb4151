"""`kensho serve --workers 2` against `--workers 1`: cached GET /api/anime/{id}, same run.

Setup as `bench.catalog`: a throw-away PostgreSQL database gets the schema and `BENCH_ANIME`
bundle entries through the real catalog sync; Redis is `BENCH_REDIS_URL`. Then two real servers,
started the way an operator starts them (`python -m kensho serve --workers N`, the in-process
simulator, INFO JSON logging with an access line per request), each on its own port and cache
namespace, both up for the whole run. The catalog is loaded, so neither syncs at start; the
bench waits until each worker has built its search index from the database (the CPU-heavy part of
a start) before measuring.

Warm-up: every distinct sampled id is fetched a few times over fresh connections, so every
worker's L1 holds it (each connection lands on one worker), then a short load run per server.

Throughput by paired short rounds (`loadgen.paired_rounds`, as `bench.catalog`): `BENCH_ROUNDS`
rounds of `BENCH_DURATION` s against each server, order alternating; `throughput_ratio` is the
median of the per-round two-worker / one-worker ratios. The load generator (wrk, 2 threads,
`BENCH_CONNECTIONS` connections; else an aiohttp client) runs on the same machine: on a 2-core
host it takes CPU from the workers, which is the honest caveat of this number. Each run also
records the CPU the server's processes used (`/proc`): `cpu_cores` busy and `cpu_us_per_request`,
which say whether a ratio comes from the work per request or from the CPU the server got.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.catalog import REDIS_URL, SERVER_DSN, _load, _load_database, _zipf_ids
from bench.loadgen import free_port, paired_rounds
from kensho.config import available_cpus
from kensho.store.scratch import create_scratch_database

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP", "2"))
START_TIMEOUT = float(os.environ.get("BENCH_START_TIMEOUT", "300"))
TOKEN = "bench-fleet"


class _Server:
    """One `kensho serve --workers N` process with its log in a temporary file."""

    def __init__(self, workers: int, dsn: str, log_dir: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.log = log_dir / f"workers-{workers}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
        env |= {
            "KENSHO_PORT": str(self.port),
            "KENSHO_SIM_PORT": "0",
            "KENSHO_DATABASE_URL": dsn,
            "KENSHO_REDIS_URL": REDIS_URL,
            "KENSHO_REDIS_PREFIX": f"bench-fleet:{os.getpid()}:{workers}:",
            "KENSHO_CACHE_PREFIX": f"bench-fleet:{os.getpid()}:{workers}:cache:",
            "KENSHO_DATA_DIR": str(log_dir / f"data-{workers}"),
            "KENSHO_ADMIN_TOKEN": TOKEN,
            "KENSHO_PRESTOP_DELAY": "0",
        }
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kensho", "serve", "--workers", str(workers)],
                stdout=out,
                stderr=out,
                env=env,
            )

    def wait_settled(self) -> None:
        """Until every worker listens and has built its search index from the database."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self._tail()}")
            text = self.log.read_text()
            built = text.count("index built (start, database)")
            if text.count('"event":"listening"') >= self.workers and built >= self.workers:
                return
            time.sleep(0.5)
        raise RuntimeError(f"--workers {self.workers} did not settle: {self._tail()}")

    def workers_seen(self, tries: int = 40) -> set[int]:
        """Worker indexes that answered `/admin/actors` over fresh connections."""
        seen: set[int] = set()
        for _ in range(tries):
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/admin/actors",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                seen.add(json.load(resp)["worker"]["index"])
        return seen

    def fetch_all(self, ids: list[str], passes: int) -> int:
        """GET each distinct id `passes` times (fresh connections land on random workers)."""
        distinct = list(dict.fromkeys(ids))
        for _ in range(passes):
            for anime_id in distinct:
                url = f"http://127.0.0.1:{self.port}/api/anime/{anime_id}"
                with urllib.request.urlopen(url, timeout=10) as resp:
                    resp.read()
        return len(distinct)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by this server: the parent and its workers."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        ticks = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a worker that just exited
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def measure(self, tool: str, ids: list[str], seconds: float) -> dict[str, float]:
        """One load run, with the CPU the server used: cores busy, and µs per request."""
        before = self.cpu_seconds()
        result = dict(_load(tool, self.port, ids, seconds))
        used = self.cpu_seconds() - before
        result["cpu_cores"] = round(used / seconds, 3)
        result["cpu_us_per_request"] = round(used * 1e6 / max(1.0, result["rps"] * seconds), 1)
        return result

    def _tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""


def main() -> dict[str, Any]:
    """Load a database, start one- and two-worker servers, run the rounds, tear down."""
    tool = "wrk" if shutil.which("wrk") else "aiohttp"
    dsn, drop = create_scratch_database(SERVER_DSN, "kensho_bench")
    servers: list[_Server] = []
    log_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        popular = asyncio.run(_load_database(dsn))
        ids = _zipf_ids(popular, 20_000)
        one = _Server(1, dsn, log_dir)
        servers.append(one)
        one.wait_settled()  # one start at a time: two index builds at once would take longer
        two = _Server(2, dsn, log_dir)
        servers.append(two)
        two.wait_settled()
        answered = sorted(two.workers_seen())
        warmed = one.fetch_all(ids, passes=1)
        two.fetch_all(ids, passes=4)  # each worker's L1, not only Redis
        _load(tool, one.port, ids, WARM_UP)
        _load(tool, two.port, ids, WARM_UP)
        paired = paired_rounds(
            lambda: one.measure(tool, ids, DURATION),
            lambda: two.measure(tool, ids, DURATION),
            ROUNDS,
        )
        exits = [server.stop() for server in servers]
        result: dict[str, Any] = {
            "benchmark": "GET /api/anime/{id}, Zipf ids, cached: kensho serve --workers 2 vs 1",
            "load_generator": tool,
            "load_generator_note": "on the same host, sharing its CPUs with the workers",
            "host_cpus": available_cpus(),
            "anime": len(popular),
            "duration_s": DURATION,
            "rounds": ROUNDS,
            "warm_up_ids": warmed,
            "workers_answered": answered,
            "workers_1": paired["baseline"],
            "workers_2": paired["candidate"],
            "throughput_ratio": round(paired["ratio"], 3),
            "method": "paired rounds, order alternating; median of per-round 2-worker/1-worker",
            "round_ratios": [round(r, 3) for r in paired["ratios"]],
            "ratio_min": round(paired["ratio_min"], 3),
            "ratio_max": round(paired["ratio_max"], 3),
            "round_rps": {
                "workers_1": [round(r["rps"]) for r in paired["baseline_runs"]],
                "workers_2": [round(r["rps"]) for r in paired["candidate_runs"]],
            },
            "exit_codes": exits,
        }
    finally:
        for server in servers:
            server.stop()
        drop()
        shutil.rmtree(log_dir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
