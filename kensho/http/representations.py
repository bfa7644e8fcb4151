"""Answering with cached representations: per-app memo tables of the catalog and search routes.

`Representations` is per-app state (typed key `keys.REPRESENTATIONS`), never module state:
- `known`: (request target, Accept-Encoding) -> the stored cache key of the representation a
  request with valid inputs asked for, so a request seen before skips parsing and validating
  its inputs again (the hot path);
- `ready`: representations answered lately, unpacked (ETag, body, response headers), keyed by
  the cached bytes themselves (their hash is computed once per bytes object);
- `negotiate`: the app's memoised `Accept-Encoding` negotiation.
Every table is bounded and cleared when full.

Catalog representations are cached per content coding (`respond` sends them as they are);
search and suggestions cache one identity representation and `respond_negotiated` codes it:
each coding is compressed once per representation and kept in its `ready` entry with its
headers, and each `Accept-Encoding` value seen is memoised there to the answer it gets, so a
repeated request costs one dict read more than `respond`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, istr

from kensho.catalog.representation import MIN_COMPRESS_BYTES, CachePolicy, compress, unpack
from kensho.http.conditional import none_match
from kensho.http.negotiation import Negotiator

__all__ = ["Representations"]

_KNOWN_MAX = 8192
_READY_MAX = 1024
#: Distinct `Accept-Encoding` values memoised per representation (clients send a handful).
_ANSWERS_MAX = 16
_ANSWER_KEY_MAX = 128
_IF_NONE_MATCH = istr("If-None-Match")
_ACCEPT_ENCODING = istr("Accept-Encoding")


class _Ready:
    """A representation unpacked for answering: ETag, body and the response headers."""

    __slots__ = ("answers", "body", "coded", "etag", "headers", "policy")

    def __init__(self, rep: bytes, policy: CachePolicy, skip: int) -> None:
        self.policy = policy
        self.etag, coding, self.body = unpack(rep[skip:] if skip else rep)
        self.headers = self._headers(coding)
        #: coding -> (body, headers), compressed once (`respond_negotiated` only)
        self.coded: dict[str, tuple[bytes, CIMultiDictProxy[str]]] = {}
        #: Accept-Encoding value -> what it is answered (`respond_negotiated` only)
        self.answers: dict[str | None, tuple[bytes, CIMultiDictProxy[str]]] = {}

    def _headers(self, coding: str) -> CIMultiDictProxy[str]:
        headers = CIMultiDict(
            {
                "ETag": self.etag,
                "Cache-Control": self.policy.header,
                "Content-Type": "application/json",
            }
        )
        if self.policy.vary is not None:
            headers["Vary"] = self.policy.vary
        if coding != "identity":
            headers["Content-Encoding"] = coding
        return CIMultiDictProxy(headers)

    def answer(
        self, accept: str | None, negotiate: Callable[[str | None], tuple[str, bool]]
    ) -> tuple[bytes, CIMultiDictProxy[str]]:
        """Body and headers for `Accept-Encoding: accept` (an identity representation);
        raises `NotAcceptable` (406) when the client accepts none of our codings."""
        coding, identity_ok = negotiate(accept)
        if len(self.body) < MIN_COMPRESS_BYTES and identity_ok:
            coding = "identity"  # compression would save almost nothing
        if coding == "identity":
            answer = (self.body, self.headers)
        else:
            done = self.coded.get(coding)
            if done is None:
                # On the loop: a search page or suggestion list is bounded (limit <= 50), so
                # this is well under a millisecond, and it happens once per representation.
                done = self.coded[coding] = (compress(self.body, coding), self._headers(coding))
            answer = done
        if len(self.answers) < _ANSWERS_MAX and (accept is None or len(accept) <= _ANSWER_KEY_MAX):
            self.answers[accept] = answer
        return answer


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

    def _unpack(self, rep: bytes, policy: CachePolicy, skip: int) -> _Ready:
        if len(self.ready) >= _READY_MAX:
            self.ready.clear()
        ready = self.ready[rep] = _Ready(rep, policy, skip)
        return ready

    @staticmethod
    def _not_modified(ready: _Ready) -> web.Response:
        policy = ready.policy
        headers = {"ETag": ready.etag, "Cache-Control": policy.header}
        if policy.vary is not None:
            headers["Vary"] = policy.vary
        return web.Response(status=304, headers=headers)

    def respond(
        self, request: web.Request, rep: bytes, policy: CachePolicy, skip: int = 0
    ) -> web.Response:
        """200 with the cached bytes, or 304 when `If-None-Match` names their ETag. `skip`:
        bytes the cached value holds before the representation (search keeps its result
        count there)."""
        ready = self.ready.get(rep)
        if ready is None or ready.policy is not policy:
            ready = self._unpack(rep, policy, skip)
        condition = request.headers.get(_IF_NONE_MATCH)
        if condition is not None and none_match(condition, ready.etag):
            return self._not_modified(ready)
        return web.Response(body=ready.body, headers=ready.headers)

    def respond_negotiated(
        self, request: web.Request, rep: bytes, policy: CachePolicy, skip: int = 0
    ) -> web.Response:
        """As `respond`, for an identity representation sent in the coding the request's
        `Accept-Encoding` prefers (compressed once per coding, kept with it). The ETag is the
        identity bytes' for every coding, as the catalog's; `policy.vary` should name
        Accept-Encoding. A 304 is decided before the coding, so it is never a 406."""
        ready = self.ready.get(rep)
        if ready is None or ready.policy is not policy:
            ready = self._unpack(rep, policy, skip)
        headers = request.headers
        condition = headers.get(_IF_NONE_MATCH)
        if condition is not None and none_match(condition, ready.etag):
            return self._not_modified(ready)
        accept = headers.get(_ACCEPT_ENCODING)
        answer = ready.answers.get(accept)
        if answer is None:
            answer = ready.answer(accept, self.negotiate)
        return web.Response(body=answer[0], headers=answer[1])
