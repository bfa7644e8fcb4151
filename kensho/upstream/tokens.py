"""Crunchyroll OAuth tokens as typed values, decoded from the token endpoint's answer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kensho.upstream.errors import UpstreamDecodeError

__all__ = ["DEFAULT_LIFETIME", "Token", "jwt_claims"]

#: Seconds an access token lives when `expires_in` is missing (what yt-dlp assumes).
DEFAULT_LIFETIME = 300.0
_MAX_JWT = 16_384


def jwt_claims(token: str) -> dict[str, Any]:
    """The JWT payload WITHOUT checking the signature (we only read `benefits`); {} if not a JWT."""
    if len(token) > _MAX_JWT:
        return {}
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeEncodeError, binascii.Error, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True, slots=True)
class Token:
    """One grant's result. `expires_at` is wall-clock epoch seconds (it is persisted)."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    account_id: str | None
    premium: bool
    device_id: str
    token_type: str = "Bearer"
    profile_id: str | None = None
    country: str | None = None

    def __repr__(self) -> str:  # never print a secret
        return (
            f"Token(account_id={self.account_id!r}, premium={self.premium}, "
            f"expires_at={self.expires_at}, device_id={self.device_id!r})"
        )

    @property
    def authorization(self) -> str:
        return f"{self.token_type} {self.access_token}"

    def expires_within(self, seconds: float, now: float) -> bool:
        return now + seconds >= self.expires_at

    @classmethod
    def from_response(
        cls, doc: Mapping[str, Any], *, device_id: str, now: float, url: str = ""
    ) -> Token:
        """Validate the 200 body of `/auth/v1/token`; a missing access token is a decode error."""
        access = doc.get("access_token")
        if not isinstance(access, str) or not access or len(access) > _MAX_JWT:
            raise UpstreamDecodeError("token answer without a usable access_token", url=url)
        refresh = doc.get("refresh_token")
        expires_in = doc.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            lifetime = DEFAULT_LIFETIME
        else:
            lifetime = max(0.0, min(float(expires_in), 86_400.0))
        benefits = jwt_claims(access).get("benefits")
        premium = isinstance(benefits, list) and "cr_premium" in benefits
        account = doc.get("account_id")
        profile = doc.get("profile_id")
        country = doc.get("country")
        token_type = doc.get("token_type")
        return cls(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=now + lifetime,
            account_id=account if isinstance(account, str) and account else None,
            premium=premium,
            device_id=device_id,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            profile_id=profile if isinstance(profile, str) and profile else None,
            country=country if isinstance(country, str) else None,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "account_id": self.account_id,
            "premium": self.premium,
            "device_id": self.device_id,
            "token_type": self.token_type,
            "profile_id": self.profile_id,
            "country": self.country,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Token:
        return cls(
            access_token=str(record["access_token"]),
            refresh_token=record.get("refresh_token"),
            expires_at=float(record["expires_at"]),
            account_id=record.get("account_id"),
            premium=bool(record.get("premium", False)),
            device_id=str(record["device_id"]),
            token_type=str(record.get("token_type") or "Bearer"),
            profile_id=record.get("profile_id"),
            country=record.get("country"),
        )
