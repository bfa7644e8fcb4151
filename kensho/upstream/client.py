"""`CrunchyrollClient`: the one async client for the Crunchyroll API.

One pooled `aiohttp.ClientSession` (keep-alive, DNS cache, connector limits) serves every call.
Each call: a deadline for all its attempts; per attempt a breaker permit, a pool slot and
connect/total timeouts (see `transport.py`); retries through tenacity for idempotent requests
only (`retry.py`); every answer classified into a typed failure (`errors.py`). The
request id and the W3C trace context of the current request are passed on.

Over 400 lines on purpose: the one client's public calls (grants, content, playback) in one
class; each mechanism it uses is its own module (transport, retry, errors, tokens, gate).
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from opentelemetry import propagate
from yarl import URL

from kensho.config import Config
from kensho.errors import ValidationFailed
from kensho.observability.logging import request_id_var
from kensho.upstream.cdn import CdnFetcher
from kensho.upstream.errors import (
    UpstreamDecodeError,
    UpstreamNotFound,
    UpstreamTimeout,
    UpstreamUnauthorized,
)
from kensho.upstream.gate import NoopGate, PermitGate
from kensho.upstream.retry import RETRYABLE_EXCEPTIONS, RetryPolicy
from kensho.upstream.tokens import Token
from kensho.upstream.transport import RawResponse, Transport, map_exception

__all__ = ["CallReport", "ClientSettings", "CrunchyrollClient", "Playback"]

#: Crunchyroll ids are opaque uppercase alphanumerics of varying length; stream tokens are
#: opaque too. Anything else in a path segment is refused before it reaches the wire.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_PATH = re.compile(r"/[A-Za-z0-9_\-./,{}]*")
_MAX_PARAM = 1024


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Knobs of the client; `from_config` maps the `KENSHO_UPSTREAM_*` settings."""

    base_url: str
    client_id: str = "kensho-sim-client"
    client_secret: str = "kensho-sim-secret"
    device_type: str = "ANDROIDTV"
    user_agent: str = "Crunchyroll/3.60.0 Android/12 okhttp/4.12.0"
    # Kenshō's front end plays HLS (hls.js): Apple platforms get HLS, the others a DASH MPD
    play_device: str = "web"
    play_platform: str = "safari"
    locale: str = "en-US"
    pool_size: int = 32
    limit_per_host: int = 0
    acquire_timeout: float = 1.0
    connect_timeout: float = 2.0
    attempt_timeout: float = 5.0
    call_timeout: float = 10.0
    keepalive_timeout: float = 30.0
    dns_ttl: int = 300
    max_body_bytes: int = 8 << 20
    anonymous_refresh_margin: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_config(cls, config: Config, base_url: str | None = None) -> ClientSettings:
        url = base_url or config.upstream_url
        if not url:
            raise ValueError("no upstream URL: set KENSHO_UPSTREAM_URL or start the simulator")
        return cls(
            base_url=url,
            client_id=config.upstream_client_id,
            client_secret=config.upstream_client_secret or "",
            pool_size=config.upstream_pool_size,
            acquire_timeout=config.upstream_acquire_timeout,
            connect_timeout=config.upstream_connect_timeout,
            attempt_timeout=config.upstream_timeout,
            call_timeout=config.upstream_call_timeout,
            retry=RetryPolicy(attempts=config.upstream_retries + 1),
        )


@dataclass(frozen=True, slots=True)
class CallReport:
    """One finished call, for metrics and tests: how many attempts and which delays."""

    method: str
    path: str
    attempts: int
    delays: tuple[float, ...]
    status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Playback:
    """The parts of a play answer Kenshō uses; `raw` keeps the rest."""

    content_id: str
    manifest_url: str
    stream_token: str
    audio_locale: str
    subtitles: Mapping[str, Mapping[str, str]]
    hard_subs: Mapping[str, str]
    uses_stream_limits: bool
    raw: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"Playback(content_id={self.content_id!r}, audio_locale={self.audio_locale!r})"


def _segment(name: str, value: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationFailed.field(name, "not a valid Crunchyroll id", status=400)
    return value


class CrunchyrollClient:
    """Use as `async with CrunchyrollClient(settings) as client:` (or `start()`/`close()`)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        gate: PermitGate | None = None,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        observer: Callable[[CallReport], None] | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.settings = settings
        #: aiohttp request hooks for the session (tracing: a client span and `traceparent`)
        self._trace_configs = list(trace_configs)
        self.gate: PermitGate = gate or NoopGate()
        self._base = URL(settings.base_url)
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"upstream URL must be http(s)://host[:port]: {settings.base_url!r}")
        self._rand = rand
        self._sleep = sleep
        self._clock = clock
        self._wall = wall_clock
        self._observer = observer
        self._transport: Transport | None = None
        #: manifests and media text: no bearer token, own session, outside breaker and pool
        self.cdn = CdnFetcher(
            user_agent=settings.user_agent,
            timeout=settings.attempt_timeout,
            connect_timeout=settings.connect_timeout,
            max_body_bytes=settings.max_body_bytes,
        )
        self._anon: Token | None = None
        self._anon_lock = asyncio.Lock()
        self._anon_device = str(uuid.uuid4())
        basic = f"{settings.client_id}:{settings.client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(basic).decode("ascii")
        self._timeout = aiohttp.ClientTimeout(
            total=settings.attempt_timeout,
            connect=settings.acquire_timeout + settings.connect_timeout,
            sock_connect=settings.connect_timeout,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._transport is not None:
            return
        await self.cdn.start()
        connector = aiohttp.TCPConnector(
            limit=self.settings.pool_size,
            limit_per_host=self.settings.limit_per_host,
            keepalive_timeout=self.settings.keepalive_timeout,
            use_dns_cache=True,
            ttl_dns_cache=self.settings.dns_ttl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "*/*",
                "Accept-Language": "en-US,en;q=0.5",
            },
            raise_for_status=False,
            trace_configs=self._trace_configs or None,
        )
        self._transport = Transport(
            session,
            gate=self.gate,
            pool_size=self.settings.pool_size,
            acquire_timeout=self.settings.acquire_timeout,
            max_body_bytes=self.settings.max_body_bytes,
            clock=self._clock,
        )

    async def close(self) -> None:
        """Close the session and its connector; idempotent."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
        await self.cdn.close()

    async def __aenter__(self) -> CrunchyrollClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session (tests check the connector; no one else should need it)."""
        if self._transport is None:
            raise RuntimeError("CrunchyrollClient is not started")
        return self._transport.session

    def stats(self) -> dict[str, Any]:
        """Pool use, for `/admin/actors` and metrics; cheap and safe on the loop."""
        t = self._transport
        return {
            "pool_size": self.settings.pool_size,
            "in_use": t.in_use if t else 0,
            "waiting": t.waiting if t else 0,
            "exhausted": t.exhausted if t else 0,
        }

    # -- the core call -------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        request_id = request_id_var.get()
        if request_id:
            headers["X-Request-ID"] = request_id
        propagate.inject(headers)
        return headers

    def _url(self, path: str) -> URL:
        if not _PATH.fullmatch(path) or "//" in path or "/../" in path or path.endswith("/.."):
            raise ValidationFailed.field("path", "not a valid upstream path", status=400)
        return self._base.with_path(path)

    async def _call(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        auth: bool = False,
        **kwargs: Any,
    ) -> RawResponse:
        transport = self._transport
        if transport is None:
            raise RuntimeError("CrunchyrollClient is not started")
        delays: list[float] = []
        retrying = self.settings.retry.retrying(
            idempotent=idempotent,
            deadline=self._clock() + self.settings.call_timeout,
            clock=self._clock,
            sleep=self._sleep,
            rand=self._rand,
            on_sleep=delays.append,
        )
        attempts = 0
        status: int | None = None
        error: str | None = None
        sent = self._headers(headers)
        try:
            async with asyncio.timeout(self.settings.call_timeout):
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        resp = await transport.attempt(
                            method, url, auth=auth, headers=sent, timeout=self._timeout, **kwargs
                        )
            status = resp.status
            return resp
        except TimeoutError as exc:
            error = type(exc).__name__
            raise UpstreamTimeout("Crunchyroll did not answer in time", url=str(url)) from None
        except RETRYABLE_EXCEPTIONS as exc:
            error = type(exc).__name__
            raise map_exception(exc, str(url)) from exc
        except Exception as exc:
            error = type(exc).__name__
            status = getattr(exc, "upstream_status", None)
            raise
        finally:
            if self._observer is not None:
                self._observer(CallReport(method, url.path, attempts, tuple(delays), status, error))

    @staticmethod
    def _json(resp: RawResponse) -> dict[str, Any]:
        if not resp.body.strip():
            return {}
        try:
            doc = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            raise UpstreamDecodeError(
                "answer is not JSON", upstream_status=resp.status, url=resp.url, body=resp.body
            ) from None
        if not isinstance(doc, dict):
            raise UpstreamDecodeError(
                "answer is not a JSON object",
                upstream_status=resp.status,
                url=resp.url,
                body=resp.body,
            )
        return doc

    # -- auth ----------------------------------------------------------------------------------

    async def _grant(self, form: dict[str, str], device_id: str) -> Token:
        headers = {"Authorization": self._basic}
        if form["grant_type"] in ("client_id", "password"):
            headers["ETP-Anonymous-ID"] = device_id
        form |= {
            "scope": "offline_access",
            "device_id": device_id,
            "device_type": self.settings.device_type,
        }
        url = self._url("/auth/v1/token")
        resp = await self._call(
            "POST", url, headers=headers, data=form, idempotent=False, auth=True
        )
        return Token.from_response(
            self._json(resp), device_id=device_id, now=self._wall(), url=str(url)
        )

    async def client_grant(self, device_id: str | None = None) -> Token:
        """An anonymous token (no refresh token, no account)."""
        return await self._grant({"grant_type": "client_id"}, device_id or str(uuid.uuid4()))

    async def password_grant(
        self, username: str, password: str, device_id: str | None = None
    ) -> Token:
        """Log a user in; `InvalidCredentials` on a wrong username or password."""
        if not (0 < len(username) <= 320) or not (0 < len(password) <= 1024):
            raise ValidationFailed.field("username", "username or password has a bad length")
        form = {"grant_type": "password", "username": username, "password": password}
        return await self._grant(form, device_id or str(uuid.uuid4()))

    async def refresh_grant(self, refresh_token: str, device_id: str) -> Token:
        """Rotate: the answer carries a NEW refresh token; the device id must be the login's."""
        if not (0 < len(refresh_token) <= 4096):
            raise ValidationFailed.field("refresh_token", "bad length")
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._grant(form, device_id)

    # -- content -------------------------------------------------------------------------------

    async def get_json(
        self, path: str, params: Mapping[str, str | int] | None, token: Token
    ) -> dict[str, Any]:
        """GET a content endpoint (retried); an empty body counts as `{}`."""
        query: dict[str, str] = {"locale": self.settings.locale}
        for key, value in (params or {}).items():
            text = str(value)
            if len(key) > 64 or len(text) > _MAX_PARAM:
                raise ValidationFailed.field(key[:64], "query parameter too long", status=400)
            query[key] = text
        resp = await self._call(
            "GET",
            self._url(path),
            headers={"Authorization": token.authorization},
            params=query,
            idempotent=True,
        )
        return self._json(resp)

    async def fetch_json(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> dict[str, Any]:
        """`get_json` with the shared anonymous token (for the catalog sync's `CatalogSource`)."""
        token = await self._anonymous()
        try:
            return await self.get_json(path, params, token)
        except UpstreamUnauthorized:
            token = await self._anonymous(stale=token)
            return await self.get_json(path, params, token)

    async def _anonymous(self, stale: Token | None = None) -> Token:
        """The shared anonymous token; one grant in flight (the lock), renewed before expiry."""
        async with self._anon_lock:
            current = self._anon
            margin = self.settings.anonymous_refresh_margin
            if (
                current is not None
                and current is not stale
                and not current.expires_within(margin, self._wall())
            ):
                return current
            self._anon = await self.client_grant(self._anon_device)
            return self._anon

    # -- playback ------------------------------------------------------------------------------

    async def play(self, episode_id: str, token: Token) -> Playback:
        """Open a stream. NOT retried: each play answer opens a stream that counts to the limit."""
        _segment("episode_id", episode_id)
        s = self.settings
        path = f"/playback/v3/{episode_id}/{s.play_device}/{s.play_platform}/play"
        resp = await self._call(
            "GET",
            self._url(path),
            headers={"Authorization": token.authorization},
            params={"queue": "false", "locale": s.locale},
            idempotent=False,
        )
        doc = self._json(resp)
        stream_token = doc.get("token")
        manifest = doc.get("url")
        if not isinstance(stream_token, str) or not isinstance(manifest, str) or not manifest:
            if isinstance(stream_token, str) and _ID.fullmatch(stream_token):
                await self._release_quietly(episode_id, stream_token, token)
            raise UpstreamDecodeError(
                "play answer without url or token", url=resp.url, body=resp.body
            )
        subtitles = {
            lang: {"url": str(v.get("url", "")), "format": str(v.get("format", ""))}
            for lang, v in (doc.get("subtitles") or {}).items()
            if lang != "none" and isinstance(v, dict)
        }
        hard_subs = {
            lang: str(v.get("url", ""))
            for lang, v in (doc.get("hardSubs") or {}).items()
            if lang != "none" and isinstance(v, dict)
        }
        session = doc.get("session") if isinstance(doc.get("session"), dict) else {}
        return Playback(
            content_id=episode_id,
            manifest_url=manifest,
            stream_token=stream_token,
            audio_locale=str(doc.get("audioLocale") or ""),
            subtitles=subtitles,
            hard_subs=hard_subs,
            uses_stream_limits=bool((session or {}).get("usesStreamLimits", True)),
            raw=doc,
        )

    async def release_stream(self, content_id: str, stream_token: str, token: Token) -> None:
        """DELETE the stream token (retried: deleting twice is harmless); 404 = already gone."""
        _segment("content_id", content_id)
        _segment("stream_token", stream_token)
        url = self._url(f"/playback/v1/token/{content_id}/{stream_token}")
        try:
            await self._call(
                "DELETE", url, headers={"Authorization": token.authorization}, idempotent=True
            )
        except UpstreamNotFound:
            return

    async def _release_quietly(self, content_id: str, stream_token: str, token: Token) -> None:
        try:
            await self.release_stream(content_id, stream_token, token)
        except Exception:  # the play call's own error matters more; the token expires anyway
            return

    async def fetch_manifest(self, playback: Playback, token: Token) -> str:
        """The stream's manifest: its URL plus `accountid` and `playbackGuid` (the stream token).

        Fetched by the CDN fetcher: the manifest host is not the API host, so the user's bearer
        token is never sent to it, and the request stays outside the API's breaker and pool.
        """
        url = URL(playback.manifest_url).update_query(
            accountid=token.account_id or "", playbackGuid=playback.stream_token
        )
        return await self.cdn.fetch_text(str(url))

    async def fetch_text(self, url: str, token: Token | None = None) -> str:
        """GET a manifest (or any text) by absolute URL, e.g. the play answer's `url`."""
        target = URL(url) if isinstance(url, str) and len(url) <= 4096 else None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise ValidationFailed.field("url", "must be an absolute http(s) URL", status=400)
        headers = {"Authorization": token.authorization} if token else None
        resp = await self._call("GET", target, headers=headers, idempotent=True)
        try:
            return resp.body.decode("utf-8")
        except UnicodeDecodeError:
            raise UpstreamDecodeError(
                "answer is not UTF-8 text",
                upstream_status=resp.status,
                url=resp.url,
                body=resp.body,
            ) from None
