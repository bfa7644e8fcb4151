"""Login, session and account bodies (issue 4). Passwords are load-only and never echoed."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import BodySchema, ResponseSchema, describe

__all__ = ["AccountSchema", "LoginRequestSchema", "LoginResponseSchema", "MeSchema"]


class LoginRequestSchema(BodySchema):
    """Crunchyroll credentials; exchanged once for a Kenshō session token."""

    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=254),
        metadata=describe("Crunchyroll username or e-mail"),
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata=describe("never logged, stored or echoed"),
    )

    example: ClassVar[Any] = {"username": "yuki@example.com", "password": "correct horse"}


class AccountSchema(ResponseSchema):
    """The Crunchyroll account behind a session."""

    id = fields.String(required=True, metadata=describe("Crunchyroll account id"))
    premium = fields.Boolean(required=True, metadata=describe("may stream premium-only episodes"))


class LoginResponseSchema(ResponseSchema):
    """A new session: send `token` as `Authorization: Bearer <token>`."""

    token = fields.String(
        required=True, metadata=describe("256-bit opaque session token, shown once")
    )
    expires_at = fields.DateTime(required=True, metadata=describe("RFC 3339, UTC"))
    account = fields.Nested(AccountSchema, required=True)

    example: ClassVar[Any] = {
        "token": "kS3x9yqv0mJt3b0i6Zp2Jw6r2bE5m1Tq0J6b8Xy4Q7U",
        "expires_at": "2025-06-01T12:00:00Z",
        "account": {"id": "8f7d2c1a-0b3e-4f5a-9c6d-1e2f3a4b5c6d", "premium": True},
    }


class MeSchema(ResponseSchema):
    """The session the bearer token names."""

    username = fields.String(required=True)
    account = fields.Nested(AccountSchema, required=True)
    expires_at = fields.DateTime(required=True, metadata=describe("when the session ends"))

    example: ClassVar[Any] = {
        "username": "yuki@example.com",
        "account": LoginResponseSchema.example["account"],
        "expires_at": "2025-06-01T12:00:00Z",
    }
