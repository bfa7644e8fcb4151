"""Simulator fixtures: an app per test over the shared catalog index, a controllable clock."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kensho.upstream.simulator import SimConfig, create_sim_app

BASIC = "Basic " + base64.b64encode(b"kensho-sim-client:kensho-sim-secret").decode()
DEVICE = "3f1e0d6c-0000-4000-8000-000000000001"


class Clock:
    """Wall time the test moves by hand, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


Client = TestClient  # type: ignore[type-arg]
MakeClient = Callable[..., Awaitable[Any]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_sim(aiohttp_client: Any, clock: Clock) -> MakeClient:
    async def make(**overrides: Any) -> Any:
        config = SimConfig(clock=clock, **overrides)
        return await aiohttp_client(create_sim_app(config))

    return make


@pytest.fixture
async def sim(make_sim: MakeClient) -> Any:
    return await make_sim()


async def login(
    client: Any,
    username: str = "demo@kensho.dev",
    password: str = "kensho-demo",
    device_id: str = DEVICE,
) -> dict[str, Any]:
    resp = await client.post(
        "/auth/v1/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": password,
            "scope": "offline_access",
            "device_id": device_id,
            "device_type": "ANDROIDTV",
        },
        headers={"Authorization": BASIC, "ETP-Anonymous-ID": device_id},
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def bearer(client: Any, **kw: Any) -> dict[str, str]:
    token = (await login(client, **kw))["access_token"]
    return {"Authorization": f"Bearer {token}"}
