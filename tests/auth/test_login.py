"""Login, logout, me, rate limiting, audit rows and secrets (issue 4), against the simulator."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from auth.kit import DEMO, FREE, Captured
from kensho.store.pool import fetch_all
from kensho.upstream.simulator import running_simulator

pytestmark = pytest.mark.usefixtures("redis_client")


async def audit_admin(db_pool: Any, username: str) -> list[tuple[Any, ...]]:
    return await fetch_all(
        db_pool,
        "SELECT event, username, client_address, user_agent, request_id, detail "
        "FROM auth_audit WHERE username = %s ORDER BY id",
        (username,),
    )


async def test_login_me_logout_round_trip(make_kit: Any, db_pool: Any) -> None:
    async with make_kit() as kit:
        resp = await kit.client.post(
            "/api/auth/login",
            json={"username": DEMO[0], "password": DEMO[1]},
            headers={"User-Agent": "kensho-test/1", "X-Request-ID": "req-login-1"},
        )
        assert resp.status == 200
        body = await resp.json()
        assert len(body["token"]) == 43 and body["account"]["premium"] is True
        assert body["account"]["id"] and body["expires_at"].endswith("Z")
        auth = {"Authorization": f"Bearer {body['token']}"}

        me = await kit.client.get("/api/auth/me", headers=auth)
        assert me.status == 200
        assert (await me.json())["username"] == DEMO[0]

        out = await kit.client.post("/api/auth/logout", headers=auth)
        assert out.status == 204
        again = await kit.client.get("/api/auth/me", headers=auth)
        assert again.status == 401
        assert again.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await kit.client.post("/api/auth/logout", headers=auth)).status == 401

    rows = await audit_admin(db_pool, DEMO[0])
    events = [r[0] for r in rows]
    assert "success" in events and "logout" in events
    success = next(r for r in rows if r[4] == "req-login-1")
    assert success[0] == "success" and success[2] == "127.0.0.1" and success[3] == "kensho-test/1"


async def test_bad_password_is_401_and_audited(make_kit: Any, db_pool: Any) -> None:
    user = FREE[0]
    async with make_kit() as kit:
        rid = "req-" + secrets.token_hex(4)
        resp = await kit.client.post(
            "/api/auth/login",
            json={"username": user, "password": "wrong-password-x"},
            headers={"X-Request-ID": rid},
        )
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
    rows = [r for r in await audit_admin(db_pool, user) if r[4] == rid]
    assert [r[0] for r in rows] == ["failure"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "a@b.c"}, 422),
        ({"password": "x"}, 422),
        ({"username": 5, "password": "x"}, 422),
        ({"username": ["a"], "password": {"x": 1}}, 422),
        ({"username": "a" * 300, "password": "x"}, 422),
        ({"username": "a@b.c", "password": "p" * 2000}, 422),
        ({"username": "a\x00b", "password": "x"}, 422),
        ({"username": "a@b.c", "password": "x", "admin": True}, 422),
        ([1, 2, 3], 422),
        ("just a string", 422),
    ],
)
async def test_malformed_bodies_are_422(make_kit: Any, body: Any, status: int) -> None:
    async with make_kit() as kit:
        resp = await kit.client.post("/api/auth/login", json=body)
        assert resp.status == status, await resp.text()
        problem = await resp.json()
        assert problem["errors"] and "p" * 50 not in str(problem)


async def test_non_json_and_oversized_bodies(make_kit: Any) -> None:
    async with make_kit(client_max_size=4096) as kit:
        form = await kit.client.post("/api/auth/login", data={"username": "a", "password": "b"})
        assert form.status == 415
        broken = await kit.client.post(
            "/api/auth/login", data=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert broken.status == 400
        huge = await kit.client.post(
            "/api/auth/login",
            data=b'{"username": "' + b"a" * 10_000 + b'", "password": "x"}',
            headers={"Content-Type": "application/json"},
        )
        assert huge.status == 413


async def test_no_password_or_token_in_logs_or_audit(
    make_kit: Any, db_pool: Any, captured_logs: Captured
) -> None:
    wrong = "Wr0ng-" + secrets.token_hex(8)
    async with make_kit() as kit:
        await kit.client.post("/api/auth/login", json={"username": FREE[0], "password": wrong})
        token = await kit.login(FREE)
        await kit.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        await kit.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    logs = captured_logs.text()
    assert captured_logs.lines, "expected some log lines to scan"
    for secret in (wrong, FREE[1], token):
        assert secret not in logs
    rows = await fetch_all(db_pool, "SELECT row_to_json(a)::text FROM auth_audit a")
    dump = "\n".join(r[0] for r in rows)
    for secret in (wrong, FREE[1], token):
        assert secret not in dump
    stored = await fetch_all(db_pool, "SELECT row_to_json(s)::text FROM kensho_sessions s")
    assert token not in "\n".join(r[0] for r in stored)


async def test_session_survives_an_app_restart(make_kit: Any) -> None:

    async with running_simulator() as url:
        async with make_kit(sim_url=url) as first:
            token = await first.login()
        async with make_kit(sim_url=url) as second:
            me = await second.client.get(
                "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert me.status == 200
            assert (await me.json())["username"] == DEMO[0]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer short",
        "Basic " + "a" * 43,
        "Bearer " + "a" * 43,
        "Bearer " + "x" * 400,
    ],
)
async def test_bad_bearer_tokens_are_401(make_kit: Any, header: str) -> None:
    async with make_kit() as kit:
        resp = await kit.client.get("/api/auth/me", headers={"Authorization": header})
        assert resp.status == 401
