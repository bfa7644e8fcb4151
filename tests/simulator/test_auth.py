"""POST /auth/v1/token and the bearer check, per the reference's shapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from .conftest import BASIC, DEVICE, Clock, MakeClient, bearer, login

TOKEN_KEYS = {
    "access_token",
    "refresh_token",
    "expires_in",
    "token_type",
    "scope",
    "country",
    "account_id",
    "profile_id",
}
ANON_KEYS = {"access_token", "expires_in", "token_type", "scope", "country"}


def _claims(jwt: str) -> dict[str, Any]:
    header, payload, _ = jwt.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def test_password_grant_shape_and_benefits(sim: Any, clock: Clock) -> None:
    body = await login(sim)
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    claims = _claims(body["access_token"])
    assert "cr_premium" in claims["benefits"]
    assert claims["exp"] == int(clock.now) + 300 and claims["country"] == "US"
    free = await login(sim, "free@kensho.dev", "kensho-free")
    assert "cr_premium" not in _claims(free["access_token"])["benefits"]
    assert free["account_id"] != body["account_id"]


async def test_client_id_grant_is_anonymous(sim: Any) -> None:
    resp = await sim.post(
        "/auth/v1/token",
        data={"grant_type": "client_id", "device_id": DEVICE},
        headers={"Authorization": BASIC},
    )
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == ANON_KEYS
    assert _claims(body["access_token"])["benefits"] == []


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Basic " + base64.b64encode(b"kensho-sim-client:wrong").decode(),
        "Basic " + base64.b64encode(b"bad client:x").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic " + base64.b64encode(b"id:s\x00cret").decode(),
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Basic " + "A" * 5000,
    ],
)
async def test_bad_basic_client_is_invalid_client(sim: Any, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = await sim.post("/auth/v1/token", data={"grant_type": "client_id"}, headers=headers)
    assert resp.status == 401
    assert await resp.json() == {
        "code": "auth.obtain_access_token.client_inactive",
        "context": [],
        "error": "invalid_client",
    }


async def test_any_well_formed_client_is_accepted_by_default(sim: Any) -> None:
    """Real clients bring their own (rotating) Basic credentials, in the header or the body."""
    for raw in (b"t-kdgp2h8c3jub8fn0fq:yfLDfMfrYvKXh4JXS1LEI2cCqu1v5Wan", b"noaihdevm_6iyg0a8l0q:"):
        basic = "Basic " + base64.b64encode(raw).decode()
        resp = await sim.post(
            "/auth/v1/token", data={"grant_type": "client_id"}, headers={"Authorization": basic}
        )
        assert resp.status == 200, raw
    form = {"grant_type": "client_id", "client_id": "mdnx-client", "client_secret": "s3cret"}
    assert (await sim.post("/auth/v1/token", data=form)).status == 200
    # an allow-listed id still needs its own secret
    form["client_id"] = "kensho-sim-client"
    assert (await sim.post("/auth/v1/token", data=form)).status == 401


async def test_configurable_client_allow_list(make_sim: MakeClient) -> None:
    client = await make_sim(clients={"tv": "s3cret"}, strict_clients=True)
    ok = "Basic " + base64.b64encode(b"tv:s3cret").decode()
    assert (
        await client.post(
            "/auth/v1/token", data={"grant_type": "client_id"}, headers={"Authorization": ok}
        )
    ).status == 200
    assert (
        await client.post(
            "/auth/v1/token", data={"grant_type": "client_id"}, headers={"Authorization": BASIC}
        )
    ).status == 401


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("demo@kensho.dev", "wrong"),
        ("nobody@kensho.dev", "kensho-demo"),
        ("", ""),
        ("demo@kensho.dev", "kensho-demo\x00"),
        ("' OR 1=1 --", "x"),
    ],
)
async def test_bad_credentials_are_invalid_grant(sim: Any, user: str, password: str) -> None:
    resp = await sim.post(
        "/auth/v1/token",
        data={"grant_type": "password", "username": user, "password": password},
        headers={"Authorization": BASIC},
    )
    assert resp.status == 401
    assert await resp.json() == {
        "code": "auth.obtain_access_token.invalid_credentials",
        "context": [],
        "error": "invalid_grant",
    }


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"grant_type=magic", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "client_id"}', "application/json"),
        (b"grant_type=password&username=" + b"a" * 4000, "application/x-www-form-urlencoded"),
        (b"%%%&&&==", "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_bodies_are_400(sim: Any, data: bytes, content_type: str) -> None:
    resp = await sim.post(
        "/auth/v1/token", data=data, headers={"Authorization": BASIC, "Content-Type": content_type}
    )
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"code", "context", "error"}


async def test_oversized_body_is_refused(sim: Any) -> None:
    resp = await sim.post(
        "/auth/v1/token",
        data=b"a=" + b"x" * 200_000,
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 413


async def _refresh(sim: Any, token: str, device_id: str = DEVICE) -> Any:
    sim.session.cookie_jar.clear()  # the body's token alone (the etp_rt cookie is tested apart)
    return await sim.post(
        "/auth/v1/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "device_id": device_id,
            "scope": "offline_access",
        },
        headers={"Authorization": BASIC},
    )


async def test_refresh_rotates_and_old_token_is_rejected(sim: Any) -> None:
    first = await login(sim)
    resp = await _refresh(sim, first["refresh_token"])
    assert resp.status == 200
    second = await resp.json()
    assert set(second) == TOKEN_KEYS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["account_id"] == first["account_id"]
    old = await _refresh(sim, first["refresh_token"])
    assert old.status == 400
    assert await old.json() == {
        "code": "auth.obtain_access_token.invalid_refresh_token",
        "context": [],
        "error": "invalid_grant",
    }
    assert (await _refresh(sim, second["refresh_token"])).status == 200


async def test_refresh_bound_to_device(sim: Any) -> None:
    first = await login(sim)
    assert (await _refresh(sim, first["refresh_token"], device_id="other-device")).status == 400
    # a failed attempt on another device does not burn the token
    assert (await _refresh(sim, first["refresh_token"])).status == 200


@pytest.mark.parametrize("token", ["", "x" * 100_00, "garbage", "\u00e9\u00e9"])
async def test_bad_refresh_token_is_400(sim: Any, token: str) -> None:
    await login(sim)
    assert (await _refresh(sim, token)).status == 400


async def test_access_token_expires(make_sim: MakeClient, clock: Clock) -> None:
    sim = await make_sim(expires_in=5)
    headers = await bearer(sim)
    url = "/content/v2/cms/series/G6QWD3EE6"
    assert (await sim.get(url, headers=headers)).status == 200
    clock.now += 6
    resp = await sim.get(url, headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"code": "accounts.get_profile.invalid_auth_token", "context": []}


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Bearer",
        "Bearer garbage",
        "Bearer a.b.c",
        "Basic abc",
        "Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.",
        "Bearer " + "a." * 3000,
    ],
)
async def test_bearer_required_on_content(sim: Any, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = await sim.get("/content/v2/discover/browse", headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"code": "accounts.get_profile.invalid_auth_token", "context": []}


async def test_token_signed_by_another_secret_is_rejected(make_sim: MakeClient) -> None:
    other = await make_sim(jwt_secret="other")
    headers = await bearer(other)
    sim = await make_sim()
    assert (await sim.get("/content/v2/discover/browse", headers=headers)).status == 401
