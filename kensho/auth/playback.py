"""`PlaybackService`: stream URLs per (session, episode), cached, released when done.

A stream request opens one upstream stream token (the play call counts against the account's
stream limit), reads the master playlist to learn the qualities, and keeps the grant in the
session-pool actor. Later requests for the same episode and session reuse the grant, whatever
quality they ask for, until `cache_until`, which is before the upstream token expires. Grants
are released upstream when replaced, at logout, when their session ends, and by the sweeper
once their cache window is over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from kensho.actors.handle import ActorHandle
from kensho.actors.session_pool import (
    DropStream,
    GetStream,
    PutStream,
    StreamGrant,
    Sweep,
    SweepResult,
)
from kensho.auth.quality import parse_master, select_quality
from kensho.auth.service import AuthService, Caller
from kensho.errors import ActorTimeout, Forbidden, UpstreamError
from kensho.upstream.client import CrunchyrollClient, Playback
from kensho.upstream.errors import UpstreamForbidden
from kensho.upstream.tokens import Token

__all__ = ["PlaybackService"]

log = logging.getLogger(__name__)
_DEFAULT_TTL = 600.0
_SUBTITLE_FORMATS = frozenset({"ass", "vtt", "srt"})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class PlaybackService:
    def __init__(
        self,
        *,
        auth: AuthService,
        sessions: ActorHandle,
        client: CrunchyrollClient,
        cache_fraction: float = 0.8,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.sessions = sessions
        self.client = client
        self._fraction = cache_fraction
        self._wall = wall_clock
        self._releases: set[asyncio.Task[int]] = set()
        self.opened = 0
        self.released = 0

    async def stream(
        self,
        plain: str,
        caller: Caller,
        episode_id: str,
        quality: str,
        bandwidth_kbps: int | None,
    ) -> dict[str, Any]:
        session = await self.auth.session(plain)
        grant: StreamGrant | None = await self.sessions.ask(
            GetStream(session.token_hash, episode_id)
        )
        if grant is None:
            grant = await self._open(plain, caller, session.token_hash, episode_id)
        return self.render(grant, quality, bandwidth_kbps)

    @staticmethod
    def render(grant: StreamGrant, quality: str, bandwidth_kbps: int | None) -> dict[str, Any]:
        available = {q: bw for q, (_url, bw) in grant.variants.items()}
        chosen = select_quality(available, quality, bandwidth_kbps)
        if chosen is None:
            raise UpstreamError("The episode's manifest lists no playable quality.")
        return {
            "manifest_url": grant.variants[chosen][0],
            "quality": chosen,
            "qualities": list(grant.variants),
            "subtitles": [{"lang": lang, "url": u, "format": f} for lang, u, f in grant.subtitles],
            "expires_at": _iso(grant.expires_at),
        }

    async def _open(self, plain: str, caller: Caller, key: str, episode_id: str) -> StreamGrant:
        try:
            playback, token = await self.auth.call(
                plain, caller, lambda t: self.client.play(episode_id, t)
            )
        except UpstreamForbidden as exc:
            if "premium" in (exc.code or ""):
                raise Forbidden("This episode needs a premium account.") from None
            raise
        self.opened += 1
        try:
            grant = await self._grant(key, episode_id, playback, token)
        except BaseException:
            self._release_later([_bare_grant(key, episode_id, playback, token)])
            raise
        try:
            previous: StreamGrant | None = await self.sessions.ask(PutStream(grant))
        except ActorTimeout:
            raise  # PutStream runs even after its asker gave up: the grant is kept, released later
        except BaseException:
            self._release_later([grant])  # nobody holds it: free the account's stream slot
            raise
        if previous is not None and previous.stream_token != grant.stream_token:
            self._release_later([previous])
        return grant

    async def _grant(
        self, key: str, episode_id: str, playback: Playback, token: Token
    ) -> StreamGrant:
        now = self._wall()
        text = await self.client.fetch_manifest(playback, token)
        master = URL(playback.manifest_url).update_query(
            accountid=token.account_id or "", playbackGuid=playback.stream_token
        )
        variants = parse_master(text, str(master))
        if not variants:
            raise UpstreamError("The episode's manifest lists no playable quality.")
        session_doc = playback.raw.get("session")
        ttl = _DEFAULT_TTL
        if isinstance(session_doc, dict):
            raw_ttl = session_doc.get("sessionExpirationSeconds")
            if isinstance(raw_ttl, int | float) and not isinstance(raw_ttl, bool) and raw_ttl > 0:
                ttl = float(min(raw_ttl, 86_400))
        subtitles = tuple(
            (lang, doc["url"], doc["format"])
            for lang, doc in sorted(playback.subtitles.items())
            if doc.get("url") and doc.get("format") in _SUBTITLE_FORMATS
        )
        return StreamGrant(
            session_key=key,
            episode_id=episode_id,
            stream_token=playback.stream_token,
            master_url=str(master),
            variants={q: (url, bw) for q, url, bw in variants},
            subtitles=subtitles,
            expires_at=now + ttl,
            cache_until=now + ttl * self._fraction,
            token=token,
        )

    # -- release ---------------------------------------------------------------------------------

    async def release(self, grants: Iterable[StreamGrant]) -> int:
        """DELETE each stream token upstream; failures are logged (the token expires anyway)."""
        done = 0
        for grant in grants:
            try:
                await self.client.release_stream(grant.episode_id, grant.stream_token, grant.token)
            except Exception as exc:
                log.warning(
                    "stream release failed for %s: %s", grant.episode_id, type(exc).__name__
                )
            else:
                done += 1
        self.released += done
        return done

    async def stop(self, plain: str, episode_id: str) -> bool:
        """The viewer stopped playing `episode_id`: release its stream token upstream now
        (it frees one of the account's concurrent streams). False when nothing was held."""
        session = await self.auth.session(plain)
        grant: StreamGrant | None = await self.sessions.ask(
            DropStream(session.token_hash, episode_id)
        )
        if grant is None:
            return False
        await self.release([grant])
        return True

    def _release_later(self, grants: list[StreamGrant]) -> None:
        task = asyncio.ensure_future(self.release(grants))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def sweep(self) -> SweepResult:
        """Release grants whose cache window ended or whose session is gone."""
        result: SweepResult = await self.sessions.ask(Sweep())
        if result.released:
            await self.release(result.released)
        return result

    async def drain(self) -> None:
        """Wait for background releases (at shutdown)."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)


def _bare_grant(key: str, episode_id: str, playback: Playback, token: Token) -> StreamGrant:
    return StreamGrant(key, episode_id, playback.stream_token, "", {}, (), 0.0, 0.0, token)
