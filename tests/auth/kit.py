"""Test harness for issue 4: a Kenshō app against the real simulator, PostgreSQL and Redis.

`kensho_app(...)` runs the simulator in-process, builds the app through `create_app` with the
composition root's resources (DB pool, Redis, upstream client with a `BreakerGate`, an actor
tree with the session pool and breaker, the auth services) and yields a test client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from kensho.actors import breaker as breaker_actor
from kensho.actors import session_pool
from kensho.actors.supervisor import Supervisor
from kensho.auth.crypto import SessionCipher
from kensho.auth.store import SessionStore
from kensho.catalog import load_catalog
from kensho.catalog.derive import episode_id, is_premium_only, seasons_for
from kensho.composition import services
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import create_app
from kensho.upstream.breaker import BreakerConfig
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.sessions import PoolConfig
from kensho.upstream.simulator import SimConfig, running_simulator
from kensho.upstream.tokens import Token

ADMIN = "admin-token-for-tests"
DEMO = ("demo@kensho.dev", "kensho-demo")  # premium
FREE = ("free@kensho.dev", "kensho-free")
#: One session-encryption key for the whole test run, so an app "restart" can read old rows.
SESSION_KEY = Fernet.generate_key().decode()

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@dataclass
class Kit:
    client: TestClient[Any, Any]
    app: web.Application
    sim_url: str
    upstream: CrunchyrollClient
    gate: breaker_actor.BreakerGate
    extras: dict[str, Any] = field(default_factory=dict)

    async def login(self, who: tuple[str, str] = DEMO, **headers: str) -> str:
        resp = await self.client.post(
            "/api/auth/login", json={"username": who[0], "password": who[1]}, headers=headers
        )
        assert resp.status == 200, await resp.text()
        token: str = (await resp.json())["token"]
        return token

    async def fault(self, **doc: Any) -> None:
        async with self.upstream.session.post(f"{self.sim_url}/_sim/faults", json=doc) as r:
            assert r.status in (200, 201), await r.text()

    async def clear_faults(self) -> None:
        async with self.upstream.session.delete(f"{self.sim_url}/_sim/faults") as r:
            assert r.status in (200, 204), await r.text()


async def stored_token(db_pool: Any, token_hash: str, key: str = SESSION_KEY) -> Token | None:
    """The upstream token persisted for a session, decrypted with the test key."""
    session = await SessionStore(db_pool, SessionCipher([key.encode()])).load(token_hash)
    return session.upstream if session is not None else None


def episodes() -> tuple[str, str, str]:
    """(free episode, another free episode, premium-only episode) of the first catalog entry."""
    for entry in load_catalog().entries:
        plan = seasons_for(entry)[0]
        if plan.episode_count >= 4:
            n = plan.number
            premium = next(e for e in range(2, plan.episode_count + 1) if is_premium_only(plan, e))
            return (
                episode_id(entry.series_id, n, 1),
                episode_id(entry.series_id, n, 2),
                episode_id(entry.series_id, n, premium),
            )
    raise AssertionError("no catalog entry with 4 episodes")


@asynccontextmanager
async def kensho_app(
    make_client: MakeClient,
    db_pool: Any,
    redis_url: str,
    redis_prefix: str,
    *,
    sim: SimConfig | None = None,
    sim_url: str | None = None,
    breaker: BreakerConfig | None = None,
    pool: PoolConfig | None = None,
    wall_clock: Callable[[], float] | None = None,
    breaker_clock: Callable[[], float] | None = None,
    **settings: Any,
) -> AsyncIterator[Kit]:
    """A running app; pass `sim_url` to reuse a simulator across two app instances."""
    if sim_url is None:
        async with (
            running_simulator(sim or SimConfig()) as url,
            kensho_app(
                make_client,
                db_pool,
                redis_url,
                redis_prefix,
                sim_url=url,
                breaker=breaker,
                pool=pool,
                wall_clock=wall_clock,
                breaker_clock=breaker_clock,
                **settings,
            ) as kit,
        ):
            yield kit
        return
    settings.setdefault("session_encryption_key", SESSION_KEY)
    config = Config(
        upstream_url=sim_url,
        admin_token=ADMIN,
        upstream_retries=settings.pop("upstream_retries", 0),
        prestop_delay=0,
        **settings,
    )
    clock_kw: dict[str, Any] = {"clock": breaker_clock} if breaker_clock else {}
    gate = breaker_actor.BreakerGate(**clock_kw)
    upstream = CrunchyrollClient(ClientSettings.from_config(config), gate=gate)

    async def deps(app: web.Application) -> AsyncIterator[None]:
        redis = aioredis.from_url(redis_url)
        await upstream.start()
        app[keys.DB_POOL] = db_pool
        app[keys.REDIS] = redis
        app[keys.UPSTREAM] = upstream
        yield
        await upstream.close()
        await redis.aclose()

    breaker_kw: dict[str, Any] = {**clock_kw, **({"breaker": breaker} if breaker else {})}

    def root(cfg: Config) -> Supervisor:
        return Supervisor(
            "root",
            [
                session_pool.child_spec(cfg, pool=pool) if pool else session_pool.child_spec(cfg),
                breaker_actor.child_spec(cfg, "breaker", **breaker_kw),
            ],
            ask_timeout=cfg.ask_timeout,
        )

    app = create_app(
        config,
        resources=[
            deps,
            services.actor_tree(root),
            services.auth(
                limiter_prefix=redis_prefix + "login:",
                redis_prefix=redis_prefix,
                wall_clock=wall_clock,
            ),
        ],
    )
    client = await make_client(app)
    try:
        yield Kit(client, app, sim_url, upstream, gate)
    finally:
        await client.close()


class Captured(logging.Handler):
    """Every log record (formatted, with extras) of every logger, to scan for secrets."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + repr(record.__dict__))

    def text(self) -> str:
        return "\n".join(self.lines)


def bearer(token: str) -> dict[str, str]:
    """The header a front end sends with its Kenshō session token."""
    return {"Authorization": f"Bearer {token}"}
