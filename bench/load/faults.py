"""The faults the chaos run injects, each a small function over the running `Stack`."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import psycopg2
from psycopg2.extensions import parse_dsn

from bench.load.stack import Stack
from kensho.store.scratch import with_dbname

__all__ = [
    "catalog_counts",
    "clear_upstream_faults",
    "crash_actors",
    "terminate_connections",
    "upstream_fault",
]

CATALOG_TABLES = ("series", "seasons", "episodes", "series_titles", "series_external_ids")


async def upstream_fault(stack: Stack, **fault: Any) -> None:
    """One `/_sim/faults` rule (see docs/simulator.md): every API path unless told."""
    body = {"path_prefix": "/", **fault}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.sim_url + "/_sim/faults", json=body) as resp,
    ):
        if resp.status >= 300:
            raise RuntimeError(f"/_sim/faults refused {body}: {resp.status} {await resp.text()}")


async def clear_upstream_faults(stack: Stack) -> None:
    async with aiohttp.ClientSession() as http, http.delete(stack.sim_url + "/_sim/faults"):
        pass


def _server_dsn(database_url: str) -> tuple[str, str]:
    """(a DSN of the server's `postgres` database, the app's database name)."""
    return with_dbname(database_url, "postgres"), parse_dsn(database_url)["dbname"]


def terminate_connections_sync(database_url: str) -> int:
    """`pg_terminate_backend` on every connection to the app's database: what a failover or
    an idle-connection killer does to the replicas' pools. The count terminated."""
    server, name = _server_dsn(database_url)
    conn = psycopg2.connect(server)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


async def terminate_connections(stack: Stack) -> int:
    return await asyncio.to_thread(terminate_connections_sync, stack.database_url)


def catalog_counts(database_url: str) -> dict[str, int]:
    """Rows per catalog table: equal before and after the run, or a row was lost."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in CATALOG_TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                row = cur.fetchone()
                counts[table] = int(row[0]) if row else 0
            return counts
    finally:
        conn.close()


async def actor_names(stack: Stack) -> list[str]:
    """The supervision tree's leaves (the actors a restart can hit), from the first replica."""
    url = stack.replica_url(stack.replicas[0]) + "/admin/actors"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as resp:
        tree = (await resp.json())["tree"]
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        children = node.get("children")
        if children:
            for child in children:
                walk(child)
        elif "name" in node:
            names.append(str(node["name"]))

    walk(tree)
    return names


async def crash_actors(stack: Stack, names: list[str], rounds: int, pause: float) -> dict[str, int]:
    """A crash loop: `rounds` times, restart every actor in `names` on every replica through
    `POST /admin/actors/{name}/restart`, `pause` seconds apart. Answers counted by status."""
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    statuses: dict[str, int] = {}
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for _ in range(rounds):
            for replica in stack.replicas:
                for name in names:
                    url = f"{stack.replica_url(replica)}/admin/actors/{name}/restart"
                    try:
                        async with http.post(url, headers=auth) as resp:
                            key = str(resp.status)
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        key = type(exc).__name__
                    statuses[key] = statuses.get(key, 0) + 1
            await asyncio.sleep(pause)
    return statuses
