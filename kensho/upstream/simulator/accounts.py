"""``/accounts/v1/me``, ``…/me/profile``, ``…/me/multiprofile`` and ``/subs/v3/subscriptions``.

Shapes are those the public clients decode: crunchyroll-rs ``Account``/``Profile``/``Profiles``
(strict: no unknown field), Crunchy-Downloader ``CrProfile``/``CrMultiProfile``/``Subscription``.
Every account has two profiles (``Account.profile_ids``); the token's ``profile_id`` claim says
which one is selected (``refresh_token_profile_id`` switches).
"""

from __future__ import annotations

import zlib
from typing import Any

from aiohttp import web

from kensho.upstream.simulator.auth import principal_of
from kensho.upstream.simulator.config import Account
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.state import STATE, Principal

__all__ = ["routes"]

routes = web.RouteTableDef()
_CREATED = "2020-01-01T00:00:00Z"


def _caller(request: web.Request, what: str) -> tuple[Principal, Account] | web.Response:
    """The logged-in account behind the bearer: 401 for a missing/bad token, 403 anonymous."""
    who = principal_of(request)
    if who is None:
        return json_error(401, f"accounts.{what}.invalid_auth_token")
    state = request.app[STATE]
    account = next((a for a in state.accounts.values() if a.account_id == who.account_id), None)
    if account is None:
        return json_error(403, f"accounts.{what}.forbidden")
    return who, account


def _profile(account: Account, profile_id: str, selected: str | None) -> dict[str, Any]:
    primary = profile_id == account.profile_id
    name = account.email.split("@")[0]
    return {
        "account_id": account.account_id,
        "username": name if primary else f"{name}-2",
        "email": account.email,
        "profile_id": profile_id,
        "profile_name": name if primary else "Second profile",
        "can_switch": True,
        "is_primary": primary,
        "is_selected": profile_id == (selected or account.profile_id),
        "avatar": "crbrand_avatars_logo_marks_mangagirl_taupe.png",
        "wallpaper": "crbrand_wallpaper_default.png",
        "maturity_rating": "M3" if primary else "M2",
        "extended_maturity_rating": {"BR": "16"} if primary else {"BR": "12"},
        "preferred_communication_language": "en-US",
        "preferred_content_audio_language": "ja-JP",
        "preferred_content_subtitle_language": "en-US",
    }


@routes.get("/accounts/v1/me", name="account")
async def me(request: web.Request) -> web.Response:
    found = _caller(request, "get_account_info")
    if isinstance(found, web.Response):
        return found
    _, account = found
    return json_response(
        {
            "account_id": account.account_id,
            "external_id": f"EXT-{account.account_id[:8].upper()}",
            "email": account.email,
            "phone": "",
            "email_verified": True,
            "has_password": True,
            "created": _CREATED,
        }
    )


@routes.get("/accounts/v1/me/profile", name="profile")
async def profile(request: web.Request) -> web.Response:
    found = _caller(request, "get_profile")
    if isinstance(found, web.Response):
        return found
    who, account = found
    selected = who.profile_id or account.profile_id
    return json_response(_profile(account, selected, selected))


@routes.get("/accounts/v1/me/multiprofile", name="multiprofile")
async def multiprofile(request: web.Request) -> web.Response:
    found = _caller(request, "get_multiprofile")
    if isinstance(found, web.Response):
        return found
    who, account = found
    profiles = [_profile(account, p, who.profile_id) for p in account.profile_ids]
    return json_response({"tier_max_profiles": 5, "max_profiles": 5, "profiles": profiles})


@routes.get("/subs/v3/subscriptions/{account_id}", name="subscriptions")
async def subscriptions(request: web.Request) -> web.Response:
    """Crunchy-Downloader reads premium from here (a numeric legacy ``account_id``)."""
    found = _caller(request, "get_subscriptions")
    if isinstance(found, web.Response):
        return found
    _, account = found
    if request.match_info["account_id"] != account.account_id:
        return json_error(403, "subs.get_subscriptions.forbidden")
    products = (
        [
            {
                "currency_code": "USD",
                "amount": "7.99",
                "is_cancelled": False,
                "effective_date": _CREATED,
                "sku": "crunchyroll.google.premium.monthly",
                "tier": "fan",
                "active_free_trial": False,
            }
        ]
        if account.premium
        else []
    )
    return json_response(
        {
            "account_id": zlib.crc32(account.account_id.encode()),
            "ctp_account_id": account.account_id,
            "cycle_duration": "P1M",
            "next_renewal_date": "2099-01-01T00:00:00Z",
            "currency_code": "USD",
            "is_active": account.premium,
            "tax_included": True,
            "subscription_products": products,
            "third_party_subscription_products": [],
            "nonrecurring_subscription_products": [],
            "funimation_subscriptions": [],
        }
    )
