"""Decoding a response body read with `auto_decompress=False`, by its Content-Encoding."""

from __future__ import annotations

import gzip
import zlib

import brotli

__all__ = ["decode_body"]


def decode_body(coding: str | None, raw: bytes) -> bytes:
    """`raw` decoded from `coding` (the answer's Content-Encoding; None: sent as is)."""
    if coding == "gzip":
        return gzip.decompress(raw)
    if coding == "br":
        out: bytes = brotli.decompress(raw)
        return out
    if coding == "deflate":
        return zlib.decompress(raw)
    assert coding is None, coding
    return raw
