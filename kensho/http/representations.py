"""Answering with cached representations: per-app memo tables of the catalog and search routes.

`Representations` is per-app state (typed key `keys.REPRESENTATIONS`), never module state:
- `known`: (request target, Accept-Encoding) -> the stored cache key of the representation a
  request with valid inputs asked for, so a request seen before skips parsing and validating
  its inputs again (the hot path);
- `ready`: representations answered lately, unpacked (ETag, body, response headers), keyed by
  the cached bytes themselves (their hash is computed once per bytes object);
- `negotiate`: the app's memoised `Accept-Encoding` negotiation.
Every table is bounded and cleared when full.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, istr

from kensho.catalog.representation import CachePolicy, unpack
from kensho.http.conditional import none_match
from kensho.http.negotiation import Negotiator

__all__ = ["Representations"]

_KNOWN_MAX = 8192
_READY_MAX = 1024
_IF_NONE_MATCH = istr("If-None-Match")


class _Ready:
    """A representation unpacked for answering: ETag, body and the response headers."""

    __slots__ = ("body", "etag", "headers", "policy")

    def __init__(self, rep: bytes, policy: CachePolicy, skip: int) -> None:
        self.policy = policy
        self.etag, coding, self.body = unpack(rep[skip:] if skip else rep)
        headers = CIMultiDict(
            {
                "ETag": self.etag,
                "Cache-Control": policy.header,
                "Content-Type": "application/json",
            }
        )
        if policy.vary is not None:
            headers["Vary"] = policy.vary
        if coding != "identity":
            headers["Content-Encoding"] = coding
        self.headers = CIMultiDictProxy(headers)


class Representations:
    """The catalog routes' memo tables and their answer function."""

    __slots__ = ("known", "negotiate", "ready")

    def __init__(self) -> None:
        self.known: dict[tuple[str, str | None], bytes] = {}
        self.ready: dict[bytes, _Ready] = {}
        self.negotiate = Negotiator().negotiate

    def remember(self, request: tuple[str, str | None], stored: bytes) -> None:
        """Record that the (valid) `request` asks for the representation stored as `stored`."""
        if len(self.known) >= _KNOWN_MAX:
            self.known.clear()
        self.known[request] = stored

    def respond(
        self, request: web.Request, rep: bytes, policy: CachePolicy, skip: int = 0
    ) -> web.Response:
        """200 with the cached bytes, or 304 when `If-None-Match` names their ETag. `skip`:
        bytes the cached value holds before the representation (search keeps its result
        count there)."""
        ready = self.ready.get(rep)
        if ready is None or ready.policy is not policy:
            if len(self.ready) >= _READY_MAX:
                self.ready.clear()
            ready = self.ready[rep] = _Ready(rep, policy, skip)
        condition = request.headers.get(_IF_NONE_MATCH)
        if condition is not None and none_match(condition, ready.etag):
            headers = {"ETag": ready.etag, "Cache-Control": policy.header}
            if policy.vary is not None:
                headers["Vary"] = policy.vary
            return web.Response(status=304, headers=headers)
        return web.Response(body=ready.body, headers=ready.headers)
