"""`PlaybackService`: stream URLs per (session, episode), shared by the fleet, released when done.

A stream request opens one upstream stream token (the play call counts against the account's
stream limit), reads the master playlist to learn the qualities, and keeps the grant in
PostgreSQL (`GrantStore`), where every replica reuses it, whatever quality it is asked for,
until `cache_until`, which is before the upstream token expires. Concurrent opens of the same
(session, episode) share one play call: a single flight within the replica, and a short Redis
lock across replicas (the others wait for the grant to appear). An upstream 420 (the account's
stream limit) releases the stale grants the fleet holds for the account and retries once.
Grants are released upstream when replaced, when the viewer stops, at logout, and by the
sweeper of any replica once their window ended or their session is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from yarl import URL

from kensho.actors.handle import ActorHandle
from kensho.actors.session_pool import NoteStreams, Sweep, SweepResult
from kensho.auth.grants import GrantStore, StreamGrant
from kensho.auth.quality import parse_master, select_quality
from kensho.auth.service import AuthService, Caller, settled
from kensho.errors import Forbidden, UpstreamError
from kensho.upstream.client import CrunchyrollClient, Playback
from kensho.upstream.errors import TooManyActiveStreams, UpstreamForbidden
from kensho.upstream.sessions import Session
from kensho.upstream.tokens import Token

__all__ = ["PlaybackService"]

_LOCK_DOWN = (RedisError, OSError, TimeoutError)
#: delete the lock only if it is still ours (it may have expired and been taken meanwhile)
_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"

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
        grants: GrantStore,
        redis: Any = None,
        lock_prefix: str = "kensho:stream-open:",
        lock_seconds: float = 10.0,
        cache_fraction: float = 0.8,
        heartbeat_timeout: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.sessions = sessions
        self.client = client
        self.grants = grants
        self._redis = redis
        self._lock_prefix = lock_prefix
        self._lock_seconds = lock_seconds
        self._fraction = cache_fraction
        self._heartbeat_timeout = heartbeat_timeout
        self._wall = wall_clock
        self._releases: set[asyncio.Task[int]] = set()
        self._opening: dict[tuple[str, str], asyncio.Future[StreamGrant]] = {}
        self.opened = 0
        self.released = 0
        self.shared = 0
        self.retried_after_limit = 0

    async def stream(
        self,
        plain: str,
        caller: Caller,
        episode_id: str,
        quality: str,
        bandwidth_kbps: int | None,
    ) -> dict[str, Any]:
        session = await self.auth.session(plain)
        grant = await self.grants.get(session.token_hash, episode_id, self._wall())
        if grant is None:
            grant = await self._single_flight(
                (session.token_hash, episode_id),
                lambda: self._open_shared(plain, caller, session, episode_id),
            )
        return self.render(grant, quality, bandwidth_kbps)

    async def _single_flight(
        self, key: tuple[str, str], open_: Callable[[], Awaitable[StreamGrant]]
    ) -> StreamGrant:
        """One open per (session, episode) in this replica; the others await its result. The
        open runs as its own task: a requester that gives up (a client gone) cancels only its
        wait, never the play call the others share."""
        running = self._opening.get(key)
        if running is not None:
            self.shared += 1
        else:
            running = asyncio.ensure_future(open_())
            self._opening[key] = running
            running.add_done_callback(lambda t: settled(t, self._opening.pop(key, None)))
        return await asyncio.shield(running)

    async def _open_shared(
        self, plain: str, caller: Caller, session: Session, episode_id: str
    ) -> StreamGrant:
        """Open under the fleet-wide lock; a replica that finds it held waits for the grant
        the holder stores. Without Redis the lock is skipped (one open per replica)."""
        key = session.token_hash
        name = f"{self._lock_prefix}{key}:{episode_id}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_seconds
        pause = 0.02
        while True:
            owner = await self._lock(name)
            if owner is not False:
                break
            grant = await self.grants.get(key, episode_id, self._wall())
            if grant is not None:
                self.shared += 1
                return grant
            if loop.time() >= deadline:
                owner = None  # a holder that outlives its lock: open ourselves
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        try:
            grant = await self.grants.get(key, episode_id, self._wall())
            if grant is not None:  # stored by the holder we waited for
                self.shared += 1
                return grant
            return await self._open(plain, caller, session, episode_id)
        finally:
            if isinstance(owner, str):
                await self._unlock(name, owner)

    async def _lock(self, name: str) -> str | bool | None:
        """The lock's owner value when taken, False when another holds it, None without
        Redis (then we go on alone: a Redis outage never fails a stream request)."""
        if self._redis is None:
            return None
        owner = uuid.uuid4().hex
        try:
            taken = await self._redis.set(name, owner, nx=True, px=int(self._lock_seconds * 1000))
        except _LOCK_DOWN as exc:
            log.warning("stream open lock unavailable (%s): opening locally", type(exc).__name__)
            return None
        return owner if taken else False

    async def _unlock(self, name: str, owner: str) -> None:
        try:
            await self._redis.eval(_UNLOCK, 1, name, owner)
        except _LOCK_DOWN:
            return  # it expires by itself

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

    async def _open(
        self, plain: str, caller: Caller, session: Session, episode_id: str
    ) -> StreamGrant:
        key = session.token_hash
        try:
            try:
                playback, token = await self._play(plain, caller, episode_id)
            except TooManyActiveStreams:
                # Like the official apps: free what the fleet holds for this account that
                # nobody should be watching, then try once more.
                stale = await self.grants.take_stale(session.upstream.account_id, key, self._wall())
                if not stale:
                    raise
                await self.release(stale)
                self.retried_after_limit += 1
                playback, token = await self._play(plain, caller, episode_id)
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
            previous = await self.grants.put(grant)
        except BaseException:
            self._release_later([grant])  # nobody holds it: free the account's stream slot
            raise
        if previous is not None and previous.stream_token != grant.stream_token:
            self._release_later([previous])
        await self._note_streams()
        return grant

    async def _play(self, plain: str, caller: Caller, episode_id: str) -> tuple[Playback, Token]:
        return await self.auth.call(plain, caller, lambda t: self.client.play(episode_id, t))

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
            # whole milliseconds: the same instant whether read back from PostgreSQL or not
            expires_at=round(now + ttl, 3),
            cache_until=round(now + ttl * self._fraction, 3),
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
        await self._note_streams()
        return done

    async def stop(self, plain: str, episode_id: str) -> bool:
        """The viewer stopped playing `episode_id`: release its stream token upstream now
        (it frees one of the account's concurrent streams). False when nothing was held."""
        session = await self.auth.session(plain)
        grant = await self.grants.take(session.token_hash, episode_id)
        if grant is None:
            return False
        await self.release([grant])
        return True

    async def heartbeat(self, session: Session, episode_id: str) -> bool:
        """A player of this session reports playing `episode_id`: its grant stays (the sweep
        releases a grant whose player went silent for `heartbeat_timeout`)."""
        return await self.grants.touch(session.token_hash, episode_id, self._wall())

    def _release_later(self, grants: list[StreamGrant]) -> None:
        task = asyncio.ensure_future(self.release(grants))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def sweep(self) -> tuple[SweepResult, int]:
        """Release the fleet's grants whose window ended or whose session is gone (any
        replica may: each row is taken once), and drop expired sessions from memory."""
        result: SweepResult = await self.sessions.ask(Sweep())
        due = await self.grants.take_due(self._wall(), silent_for=self._heartbeat_timeout)
        released = await self.release(due) if due else 0
        await self._note_streams()
        return result, released

    async def _note_streams(self) -> None:
        """Tell the session-pool actor how many live grants the fleet holds (the console's
        streams figure); best effort: a failed count never fails a request."""
        try:
            self.sessions.tell(NoteStreams(await self.grants.count(self._wall())))
        except Exception as exc:  # the database, or the actor stopped at shutdown meanwhile
            log.debug("stream count not noted: %s", type(exc).__name__)

    async def drain(self) -> None:
        """Wait for background releases (at shutdown)."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)


def _bare_grant(key: str, episode_id: str, playback: Playback, token: Token) -> StreamGrant:
    return StreamGrant(key, episode_id, playback.stream_token, "", {}, (), 0.0, 0.0, token)
