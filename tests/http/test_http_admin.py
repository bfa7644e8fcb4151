"""Admin routes: hidden without a token, 401 on a bad one, audited always."""

from __future__ import annotations

import os
from typing import Any

import pytest
from httpkit import TOKEN, LogCapture, MakeClient, StandInSupervisor, assert_problem

from kensho.composition.services import actor_tree
from kensho.config import Config
from kensho.errors import NotFound
from kensho.http.app import create_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _audits(logs: LogCapture) -> list[dict[str, Any]]:
    return [r for r in logs.records() if r.get("event") == "audit"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/actors"),
        ("GET", "/admin/actors/cache"),
        ("POST", "/admin/actors/cache/restart"),
    ],
)
async def test_no_token_configured_hides_admin(
    make_client: MakeClient, method: str, path: str
) -> None:
    client = await make_client()
    resp = await client.request(method, path, headers=AUTH)
    assert resp.status == 404
    assert_problem(await resp.json(content_type="application/problem+json"), 404, "not-found")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer " + "A" * 8000,  # just under the 8190-byte header limit
        "Bearer tökén",
    ],
)
async def test_wrong_or_missing_token_is_401(
    make_client: MakeClient, logs: LogCapture, supervisor: StandInSupervisor, header: str | None
) -> None:
    client = await make_client(admin_token=TOKEN)
    headers = {} if header is None else {"Authorization": header}
    resp = await client.post("/admin/actors/cache/restart", headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    body = await resp.json(content_type="application/problem+json")
    assert_problem(body, 401, "unauthorized", resp.headers["X-Request-ID"])
    assert supervisor.restarted == []
    (audit,) = _audits(logs)
    assert audit["outcome"] == "denied" and audit["action"] == "restart"
    assert audit["request_id"] == resp.headers["X-Request-ID"]


async def test_tree_and_actor_with_token(make_client: MakeClient, logs: LogCapture) -> None:
    client = await make_client(admin_token=TOKEN)
    resp = await client.get("/admin/actors", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    tree = body["tree"]
    assert [c["name"] for c in tree["children"]] == ["cache", "breaker"]
    # One process (`--workers 1`): worker 0 of 1, this pid.
    assert body["worker"] == {"index": 0, "count": 1, "pid": os.getpid()}
    one = await client.get("/admin/actors/cache", headers=AUTH)
    assert one.status == 200
    assert (await one.json())["mailbox_depth"] == 2
    missing = await client.get("/admin/actors/nope", headers=AUTH)
    assert missing.status == 404
    long_name = await client.get("/admin/actors/" + "c" * 500, headers=AUTH)
    assert long_name.status == 404
    outcomes = [(a["action"], a["target"], a["outcome"]) for a in _audits(logs)]
    assert outcomes == [
        ("list", "*", "ok"),
        ("inspect", "cache", "ok"),
        ("inspect", "nope", "not_found"),
        ("inspect", "c" * 128, "not_found"),
    ]


async def test_restart_is_performed_and_audited(
    make_client: MakeClient, logs: LogCapture, supervisor: StandInSupervisor
) -> None:
    client = await make_client(admin_token=TOKEN)
    resp = await client.post(
        "/admin/actors/cache/restart", headers={**AUTH, "X-Request-ID": "op-7"}
    )
    assert resp.status == 202
    body = await resp.json()
    assert body["restarted"] == "cache" and body["actor"]["restarts"] == 1
    assert supervisor.restarted == ["cache"]
    (audit,) = _audits(logs)
    assert audit == audit | {
        "actor": "admin-token",
        "action": "restart",
        "target": "cache",
        "outcome": "ok",
        "request_id": "op-7",
        "client": "127.0.0.1",
    }
    unknown = await client.post("/admin/actors/ghost/restart", headers=AUTH)
    assert unknown.status == 404
    assert supervisor.restarted == ["cache"]


class FailingRestart(StandInSupervisor):
    """A restart that fails the way a real supervisor's can: the child went away meanwhile
    (KeyError, NotFound) or the restart itself broke."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def restart_child(self, name: str) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "outcome"),
    [
        (KeyError("cache"), 404, "not_found"),
        (NotFound("No child named cache."), 404, "not_found"),
        (RuntimeError("on_start failed"), 500, "error"),
    ],
)
async def test_a_failed_restart_is_a_problem_and_audited(
    aiohttp_client: Any, logs: LogCapture, error: Exception, status: int, outcome: str
) -> None:
    supervisor = FailingRestart(error)
    app = create_app(Config(admin_token=TOKEN), resources=[actor_tree(lambda _c: supervisor)])
    client = await aiohttp_client(app)
    resp = await client.post("/admin/actors/cache/restart", headers=AUTH)
    assert resp.status == status
    slug = "not-found" if status == 404 else "internal"
    assert_problem(await resp.json(content_type="application/problem+json"), status, slug)
    assert [(a["action"], a["outcome"]) for a in _audits(logs)] == [("restart", outcome)]


async def test_a_name_too_long_to_be_an_actor_is_404_without_a_restart(
    make_client: MakeClient, logs: LogCapture, supervisor: StandInSupervisor
) -> None:
    client = await make_client(admin_token=TOKEN)
    resp = await client.post("/admin/actors/" + "c" * 129 + "/restart", headers=AUTH)
    assert resp.status == 404
    assert supervisor.restarted == []
    (audit,) = _audits(logs)
    assert audit["outcome"] == "not_found" and audit["target"] == "c" * 128


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/actors"),
        ("GET", "/admin/actors/cache"),
        ("POST", "/admin/actors/cache/restart"),
    ],
)
async def test_without_an_actor_system_admin_is_503(
    aiohttp_client: Any, method: str, path: str
) -> None:
    client = await aiohttp_client(create_app(Config(admin_token=TOKEN), resources=[]))
    resp = await client.request(method, path, headers=AUTH)
    assert resp.status == 503
    assert_problem(await resp.json(content_type="application/problem+json"), 503, "unavailable")
