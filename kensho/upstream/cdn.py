"""`CdnFetcher`: manifests and other media text from the hosts a play answer names.

A play answer's `url` points at a manifest or CDN host, not at the API. The user's bearer token
is for the API host only, so these requests carry no `Authorization` (the URL itself carries
what authorises it: the stream token as `playbackGuid`, or a signature). They use their own
aiohttp session, with its own connection limit and timeouts, outside the API's circuit breaker
and pool: a slow CDN cannot take the API's connections or open its breaker, and an open API
breaker does not stop a manifest that is already granted.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from kensho.errors import ValidationFailed
from kensho.upstream.errors import UpstreamDecodeError, UpstreamFailure, classify
from kensho.upstream.transport import map_exception

__all__ = ["CdnFetcher"]

_MAX_URL = 4096


class CdnFetcher:
    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        pool_size: int = 16,
        max_body_bytes: int = 8 << 20,
    ) -> None:
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._pool_size = pool_size
        self._max_body = max_body_bytes
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, use_dns_cache=True),
                headers={"User-Agent": self._user_agent, "Accept": "*/*"},
                timeout=self._timeout,
                raise_for_status=False,
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("CdnFetcher is not started")
        return self._session

    async def fetch_text(self, url: str) -> str:
        """GET `url` (absolute http(s)) with no credentials; its body as UTF-8 text."""
        target = URL(url) if isinstance(url, str) and len(url) <= _MAX_URL else None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise ValidationFailed.field("url", "must be an absolute http(s) URL", status=400)
        self.fetches += 1
        try:
            async with self.session.get(target, allow_redirects=True) as resp:
                body = await resp.content.read(self._max_body + 1)
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise map_exception(exc, str(target)) from None
        if len(body) > self._max_body:
            raise UpstreamDecodeError("answer too large", upstream_status=status, url=str(target))
        failure: UpstreamFailure | None = None
        if status >= 300:
            failure = classify(status, headers, body, str(target))
        if failure is not None:
            raise failure
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise UpstreamDecodeError(
                "answer is not UTF-8 text", upstream_status=status, url=str(target), body=body
            ) from None
