"""The pre-2024 endpoints clients still call: ``GET /index/v2`` (the signed CMS policy), the
signed ``/cms/v2{bucket}/…`` objects and ``/content/v2/cms/videos/{id}/streams`` (the episodes'
``streams_link``).

``/index/v2`` answers ``{cms, cms_beta, cms_web, default_marketing_opt_in, service_available}``
(crunchyroll-rs' strict ``IndexResp``); each ``cms*`` is ``{bucket, policy, signature,
key_pair_id, expires}`` with bucket ``/{country}/M3/crunchyroll``. The policy is a CloudFront-style
JSON statement (base64, ``+=/`` as ``-_~``) over the bucket, signed with HMAC-SHA256. A signed
call without ``Policy``/``Signature``/``Key-Pair-Id``, with a bad signature, for another bucket
or after ``expires`` answers 403 JSON (the body is an assumption: no client captured one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from kensho.catalog.derive import is_premium_only
from kensho.upstream.simulator.auth import principal_of
from kensho.upstream.simulator.content import episode_panel, series_panel
from kensho.upstream.simulator.index import EpisodeRef
from kensho.upstream.simulator.links import base_url
from kensho.upstream.simulator.media import signed_query
from kensho.upstream.simulator.responses import json_error, json_response
from kensho.upstream.simulator.shapes import (
    SUBTITLE_LOCALES,
    episode_flat,
    season_flat,
    series_flat,
)
from kensho.upstream.simulator.state import STATE, Principal

__all__ = ["POLICY_TTL", "routes"]

routes = web.RouteTableDef()
POLICY_TTL = 3600
KEY_PAIR_ID = "APKAKENSHOSIMULATOR0"
_CF = str.maketrans("+=/", "-_~")
_MAX_PARAM = 4096
_MAX_IDS = 100


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().translate(_CF)


def _sign(secret: str, policy: str) -> str:
    return _b64(hmac.new(secret.encode(), f"cms|{policy}".encode(), hashlib.sha256).digest())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bucket(who: Principal) -> str:
    return f"/{who.country}/M3/crunchyroll"


@routes.get("/index/v2", name="index_v2")
async def index_v2(request: web.Request) -> web.Response:
    """The signed CMS policy; 401 without a valid bearer (anonymous tokens get one too)."""
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return json_error(401, "accounts.get_profile.invalid_auth_token")
    expires = int(state.config.clock()) + POLICY_TTL
    bucket = _bucket(who)
    statement = {
        "Statement": [
            {
                "Resource": f"*/cms/v2{bucket}/*",
                "Condition": {"DateLessThan": {"AWS:EpochTime": expires}},
            }
        ]
    }
    policy = _b64(json.dumps(statement, separators=(",", ":")).encode())
    cms = {
        "bucket": bucket,
        "policy": policy,
        "signature": _sign(state.config.jwt_secret, policy),
        "key_pair_id": KEY_PAIR_ID,
        "expires": _iso(expires),
    }
    return json_response(
        {
            "cms": cms,
            "cms_beta": cms,
            "cms_web": cms,
            "default_marketing_opt_in": False,
            "service_available": True,
        }
    )


def _signed_error(message: str) -> web.Response:
    return json_response(
        {
            "__class__": "error",
            "__href__": "",
            "code": "cms.forbidden",
            "context": [{"code": "invalid_signature", "field": "Policy"}],
            "message": message,
            "type": "forbidden",
        },
        status=403,
    )


def _check_policy(request: web.Request) -> web.Response | None:
    """None when the query's policy is ours, unexpired and covers this bucket."""
    state = request.app[STATE]
    q = request.query
    policy, signature, key = q.get("Policy", ""), q.get("Signature", ""), q.get("Key-Pair-Id", "")
    if not policy or not signature or not key:
        return _signed_error("Missing Key-Pair-Id, Policy or Signature query parameters")
    if max(len(policy), len(signature), len(key)) > _MAX_PARAM or key != KEY_PAIR_ID:
        return _signed_error("Invalid Key-Pair-Id or signature")
    if not hmac.compare_digest(_sign(state.config.jwt_secret, policy), signature):
        return _signed_error("Invalid Key-Pair-Id or signature")
    std = policy.translate(str.maketrans("-_~", "+=/"))
    doc = json.loads(base64.b64decode(std))  # signed by us: well-formed
    statement = doc["Statement"][0]
    expires = statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
    if expires <= state.config.clock():
        return _signed_error("Access denied: the policy has expired")
    bucket = "/" + "/".join(request.match_info[k] for k in ("country", "maturity", "channel"))
    if f"/cms/v2{bucket}/" not in statement["Resource"]:
        return _signed_error("Access denied: the policy does not cover this bucket")
    return None


_BUCKET = "/cms/v2/{country:[A-Z]{2}}/{maturity:M[1-9]}/{channel:[a-z]{1,32}}"


def _items(items: list[dict[str, Any]], kind: str) -> web.Response:
    return json_response({"__class__": "collection", "__href__": "", "total": len(items), "items": [
        {"__class__": kind, **i} for i in items
    ]})  # fmt: skip


@routes.get(_BUCKET + "/series/{id}", name="cms_series")
async def cms_series(request: web.Request) -> web.Response:
    if (denied := _check_policy(request)) is not None:
        return denied
    index = request.app[STATE].index
    entry = index.catalog.by_series_id.get(request.match_info["id"])
    if entry is None:
        return json_error(404, "cms.get_series.not_found")
    return json_response({"__class__": "series", **series_flat(index, entry, base_url(request))})


@routes.get(_BUCKET + "/seasons", name="cms_seasons")
async def cms_seasons(request: web.Request) -> web.Response:
    """``?series_id=`` → its seasons as ``{items: [...]}`` (yt-dlp's playlist walk)."""
    if (denied := _check_policy(request)) is not None:
        return denied
    index = request.app[STATE].index
    series_id = request.query.get("series_id", "")
    if series_id not in index.seasons_of:
        return json_error(404, "cms.get_seasons.not_found")
    base = base_url(request)
    return _items([season_flat(s, base) for s in index.seasons_of[series_id]], "season")


@routes.get(_BUCKET + "/episodes", name="cms_episodes")
async def cms_episodes(request: web.Request) -> web.Response:
    if (denied := _check_policy(request)) is not None:
        return denied
    index = request.app[STATE].index
    season = index.seasons.get(request.query.get("season_id", ""))
    if season is None:
        return json_error(404, "cms.get_episodes.not_found")
    base = base_url(request)
    episodes = [episode_flat(index, index.episodes[e], base) for e in index.episode_ids[season.id]]
    return _items(episodes, "episode")


@routes.get(_BUCKET + "/objects/{ids}", name="cms_objects")
async def cms_objects(request: web.Request) -> web.Response:
    if (denied := _check_policy(request)) is not None:
        return denied
    index = request.app[STATE].index
    ids = [i for i in request.match_info["ids"].split(",") if i][:_MAX_IDS]
    base = base_url(request)
    found: list[dict[str, Any]] = []
    for ident in ids:
        if (entry := index.catalog.by_series_id.get(ident)) is not None:
            found.append(series_panel(index, entry, base, False))
        elif (episode := index.episodes.get(ident)) is not None:
            found.append(episode_panel(index, episode, base, False))
    return _items(found, "panel")


def _streams(request: web.Request, episode: EpisodeRef, who: Principal) -> dict[str, Any]:
    """The legacy streams document: ``streams`` by type, then by hardsub locale (``""``)."""
    state = request.app[STATE]
    base = base_url(request)
    eid = episode.id
    expires = int(state.config.clock()) + int(state.config.stream_ttl)
    query = signed_query(state.config.jwt_secret, eid, expires)
    hls = f"{base}/playback/manifests/{eid}/master.m3u8?{query}"
    dash = f"{base}/playback/manifests/{eid}/manifest.mpd?{query}"
    streams = {
        kind: {"": {"hardsub_locale": "", "url": url}}
        for kind, url in (
            ("adaptive_hls", hls),
            ("vo_adaptive_hls", hls),
            ("adaptive_dash", dash),
            ("vo_adaptive_dash", dash),
        )
    }
    subtitles = {
        loc: {"locale": loc, "url": f"{base}/playback/subtitles/{eid}/{loc}.ass", "format": "ass"}
        for loc in SUBTITLE_LOCALES
    }
    premium = is_premium_only(episode.season.plan, episode.number)
    version = {
        "guid": eid,
        "media_guid": "M" + eid[1:],
        "season_guid": episode.season.id,
        "audio_locale": "ja-JP",
        "is_premium_only": premium,
        "original": True,
        "variant": "",
    }
    return {
        "media_id": "M" + eid[1:],
        "audio_locale": "ja-JP",
        "subtitles": subtitles,
        "closed_captions": {},
        "captions": {},
        "bifs": [f"{base}/playback/bifs/{eid}.bif"],
        "versions": [version],
        "streams": {**streams, "urls": {}},
    }


def _video(request: web.Request) -> tuple[EpisodeRef, Principal] | web.Response:
    """The episode of a ``videos/{id}`` path (episode id or its ``media_guid``) and caller."""
    state = request.app[STATE]
    who = principal_of(request)
    if who is None:
        return json_error(401, "accounts.get_profile.invalid_auth_token")
    ident = request.match_info["id"]
    if ident.startswith("M") and len(ident) <= 32:
        ident = "G" + ident[1:]
    episode = state.index.episodes.get(ident)
    if episode is None:
        return json_error(404, "cms.get_video_streams_v2.not_found")
    if is_premium_only(episode.season.plan, episode.number) and not who.premium:
        return json_error(403, "playback.premium_required")
    return episode, who


@routes.get("/content/v2/cms/videos/{id:[A-Z0-9]{1,32}}/streams", name="streams_link")
async def streams_link(request: web.Request) -> web.Response:
    """The unsigned form: ``{total, data: [streams], meta: {…}}`` (crunchyroll-rs legacy)."""
    found = _video(request)
    if isinstance(found, web.Response):
        return found
    doc = _streams(request, *found)
    streams = doc.pop("streams")
    return json_response({"total": 1, "data": [streams], "meta": doc})


@routes.get(_BUCKET + "/videos/{id:[A-Z0-9]{1,32}}/streams", name="cms_streams")
async def cms_streams(request: web.Request) -> web.Response:
    """The signed form: one object with ``streams`` beside the metadata."""
    if (denied := _check_policy(request)) is not None:
        return denied
    found = _video(request)
    if isinstance(found, web.Response):
        return found
    return json_response({"__class__": "video_streams", **_streams(request, *found)})
