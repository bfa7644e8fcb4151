"""Tokens from the token endpoint's answer: what is trusted, what is defaulted, what is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kensho.upstream.errors import UpstreamDecodeError
from kensho.upstream.tokens import DEFAULT_LIFETIME, Token, jwt_claims

URL = "https://example.test/auth/v1/token"


def _seg(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(claims: Any) -> str:
    return f"{_seg(b'{}')}.{_seg(json.dumps(claims).encode())}.c2ln"


def _token(doc: dict[str, Any]) -> Token:
    return Token.from_response(doc, device_id="dev-1", now=1000.0, url=URL)


def test_jwt_claims_reads_the_payload_without_its_padding() -> None:
    # 1, 2 and 3 characters short of a multiple of 4 once unpadded: each is padded back
    for claims in ({"a": 1}, {"ab": 1}, {"abc": 1}, {"benefits": ["cr_premium"]}):
        assert jwt_claims(_jwt(claims)) == claims


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("opaque-token", id="not-a-jwt"),
        pytest.param("a.b.c.d", id="four-parts"),
        pytest.param(f"h.{_seg(b'not json')}.s", id="not-json"),
        pytest.param(f"h.{_seg(b'[1, 2]')}.s", id="json-not-an-object"),
        pytest.param(f"h.{_seg(bytes([0xFF, 0xFE]))}.s", id="not-utf8"),
        pytest.param("h.abcde.s", id="impossible-base64-length"),
        pytest.param("h.eyJhIjoxfQé.s", id="non-ascii"),
        pytest.param(_jwt({"pad": "x" * 16_384}), id="oversized"),
    ],
)
def test_jwt_claims_of_anything_else_is_empty(token: str) -> None:
    assert jwt_claims(token) == {}


@pytest.mark.parametrize(
    "access",
    [None, "", 42, ["a"], "x" * 16_385],
    ids=["missing", "empty", "number", "list", "oversized"],
)
def test_an_answer_without_a_usable_access_token_is_a_decode_error(access: Any) -> None:
    doc = {"refresh_token": "r", "expires_in": 300}
    if access is not None:
        doc["access_token"] = access
    with pytest.raises(UpstreamDecodeError, match="usable access_token") as info:
        _token(doc)
    assert info.value.url == URL


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (300, 300.0),
        (12.5, 12.5),
        (-5, 0.0),
        (10**9, 86_400.0),
        (None, DEFAULT_LIFETIME),
        ("300", DEFAULT_LIFETIME),
        (True, DEFAULT_LIFETIME),  # a bool is an int to Python, not a lifetime
    ],
)
def test_the_lifetime_is_clamped_or_defaulted(expires_in: Any, lifetime: float) -> None:
    doc: dict[str, Any] = {"access_token": "opaque"}
    if expires_in is not None:
        doc["expires_in"] = expires_in
    assert _token(doc).expires_at == 1000.0 + lifetime


def test_a_full_answer_is_kept_and_a_sloppy_one_is_sanitised() -> None:
    full = _token(
        {
            "access_token": _jwt({"benefits": ["cr_premium"]}),
            "refresh_token": "r-1",
            "expires_in": 300,
            "account_id": "acct-1",
            "profile_id": "prof-1",
            "country": "DE",
            "token_type": "bearer",
        }
    )
    assert full.premium and full.refresh_token == "r-1" and full.account_id == "acct-1"
    assert (full.profile_id, full.country, full.token_type) == ("prof-1", "DE", "bearer")
    assert full.authorization == f"bearer {full.access_token}"

    sloppy = _token(
        {
            "access_token": _jwt({"benefits": "cr_premium"}),  # not a list: no premium
            "refresh_token": "",
            "account_id": 7,
            "profile_id": "",
            "country": ["DE"],
            "token_type": "",
        }
    )
    assert not sloppy.premium
    assert (sloppy.refresh_token, sloppy.account_id, sloppy.profile_id, sloppy.country) == (
        None,
        None,
        None,
        None,
    )
    assert sloppy.token_type == "Bearer"


def test_a_token_survives_its_record_and_never_prints_its_secrets() -> None:
    token = _token(
        {
            "access_token": "secret-access",
            "refresh_token": "secret-refresh",
            "expires_in": 60,
            "account_id": "acct-1",
            "country": "JP",
        }
    )
    assert Token.from_record(json.loads(json.dumps(token.to_record()))) == token
    assert "secret" not in repr(token)
    assert token.expires_within(60, now=1000.0) and not token.expires_within(59, now=1000.0)


def test_an_old_record_without_the_optional_fields_reads_with_defaults() -> None:
    token = Token.from_record({"access_token": "a", "expires_at": 5, "device_id": "dev-1"})
    assert token == Token("a", None, 5.0, None, False, "dev-1")
