"""Cached representations of catalog resources: the bytes sent, their ETag and content coding.

Every representation is cached whole, as `<ETag><coding byte><body>`: a hot read is one L1
lookup and a response, no JSON, no compression. A representation's tag is a hash of the exact
identity bytes (before compression), so two replicas serving the same bytes agree on it.
A `CachePolicy` says how long a representation is fresh, served stale while it is refreshed,
and kept to answer when the database fails; its `header` is the matching `Cache-Control`.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import brotli

__all__ = [
    "CODINGS",
    "MIN_COMPRESS_BYTES",
    "TAG_LENGTH",
    "CachePolicy",
    "compress",
    "etag_for",
    "pack",
    "select_fields",
    "unpack",
]

#: What we can produce, in order of preference when q-values tie.
CODINGS: Final = ("br", "gzip", "deflate", "identity")
#: Smaller bodies are sent as they are: compression would save almost nothing.
MIN_COMPRESS_BYTES: Final = 1024
#: Length of an ETag: '"' + 32 hex digits + '"'.
TAG_LENGTH: Final = 34
_CODES: Final = {"identity": b"i", "br": b"b", "gzip": b"g", "deflate": b"d"}
_NAMES: Final = {v: k for k, v in _CODES.items()}


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Windows of a cached representation (seconds) and the `Cache-Control` that says so."""

    ttl: float
    stale_ttl: float
    error_ttl: float
    header: str
    #: the request headers the representation depends on (None: none, as for identity-only
    #: answers such as search's)
    vary: str | None = "Accept-Encoding"

    @classmethod
    def of(cls, ttl: float, stale: float, error: float) -> CachePolicy:
        header = (
            f"public, max-age={int(ttl)}, stale-while-revalidate={int(stale)}, "
            f"stale-if-error={int(error)}"
        )
        return cls(ttl, stale, error, header)


def etag_for(body: bytes) -> str:
    """The strong entity tag of `body`: a quoted 128-bit BLAKE2b digest in hex."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def pack(etag: str, coding: str, body: bytes) -> bytes:
    """The cached form of a representation."""
    return etag.encode("ascii") + _CODES[coding] + body


def unpack(rep: bytes) -> tuple[str, str, bytes]:
    """(ETag, content coding, body) of a cached representation."""
    code = rep[TAG_LENGTH : TAG_LENGTH + 1]
    return rep[:TAG_LENGTH].decode("ascii"), _NAMES[code], rep[TAG_LENGTH + 1 :]


def compress(body: bytes, coding: str) -> bytes:
    """`body` in `coding` (one of `CODINGS`)."""
    if coding == "br":
        data: bytes = brotli.compress(body, quality=5)
        return data
    if coding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if coding == "deflate":
        return zlib.compress(body, 6)  # HTTP "deflate" is the zlib format
    if coding == "identity":
        return body
    raise ValueError(f"unknown content coding {coding!r}")


def select_fields(doc: Mapping[str, Any], selection: tuple[str, ...] | None) -> dict[str, Any]:
    """`doc` restricted to `selection` (all of it for None), in the document's own order."""
    if selection is None:
        return dict(doc)
    wanted = set(selection)
    return {k: v for k, v in doc.items() if k in wanted}
