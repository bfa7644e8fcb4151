"""Content coding of search and suggestion answers: br/gzip/deflate by `Accept-Encoding`.

One identity representation is cached per answer; `Representations.respond_negotiated` sends it
in the coding the request prefers, compressing each coding once per representation. Checked on
the first request of a target (the slow path) and on a repeated one (the hot path), with
hostile and malformed headers, conditional requests and the count of compressions.
"""

from __future__ import annotations

import gzip
from typing import Any

import brotli
import pytest
from codings import decode_body

from kensho.catalog.representation import MIN_COMPRESS_BYTES
from kensho.http import keys, representations

from .conftest import MakeSearchApp, SearchApp

#: a search page and a suggestion list both above the compression threshold
BIG = ("/api/search?q=the&limit=50", "/api/search/suggest?q=s&limit=20")
#: the same answers under other spellings of the query: a first request of a target
OTHER_SPELLING = {BIG[0]: "/api/search?q=THE&limit=50", BIG[1]: "/api/search/suggest?q=S&limit=20"}
#: an answer below the threshold (no suggestion starts with this)
SMALL = "/api/search/suggest?q=zzqqxxw"


async def _get(app: SearchApp, path: str, accept: str | None, **headers: str) -> Any:
    """A request with exactly `accept` as Accept-Encoding (None: no header at all)."""
    if accept is None:
        return await app.client.get(
            path, headers=headers, skip_auto_headers=["Accept-Encoding"], auto_decompress=False
        )
    return await app.client.get(
        path, headers={"Accept-Encoding": accept, **headers}, auto_decompress=False
    )


async def _identity(app: SearchApp, path: str) -> tuple[bytes, str]:
    resp = await _get(app, path, None)
    assert resp.status == 200 and "Content-Encoding" not in resp.headers
    return await resp.read(), str(resp.headers["ETag"])


#: (Accept-Encoding, the coding answered); None: no header / identity
CASES = [
    (None, None),  # no header: identity, as for old clients
    ("gzip", "gzip"),
    ("br", "br"),
    ("deflate", "deflate"),
    ("gzip, deflate, br", "br"),
    ("gzip, deflate", "gzip"),  # aiohttp's and curl's default
    ("gzip;q=1.0, br;q=0.5", "gzip"),
    ("br;q=0, gzip;q=0.1", "gzip"),
    ("GZIP", "gzip"),
    ("x-gzip", "gzip"),
    ("identity", None),
    ("*", "br"),
    ("zstd, gzip;q=0.2", "gzip"),
    ("zstd", None),  # identity is acceptable unless excluded
    ("identity;q=0, deflate", "deflate"),
    ("gzip;q=0", None),
    ("", None),
    # malformed: items that do not parse are skipped (be liberal), never a 500
    (";;;,,,", None),
    ("gzip;q=abc", None),
    ("gzip;q=2", None),
    ("gzip;level=9", None),
    ("br;q=0.5;q=0.3", None),
    ("gzip" + ",x" * 40, "gzip"),  # the first 32 items are read
    ("x," * 40 + "gzip", None),  # ... and only those
    ("g" * 5000, None),  # oversized
    ("\u00e9gzip", None),
]


@pytest.mark.parametrize("path", BIG)
async def test_answers_are_sent_in_the_preferred_coding(
    make_search_app: MakeSearchApp, path: str
) -> None:
    app = await make_search_app()
    reference, etag = await _identity(app, path)
    assert len(reference) > MIN_COMPRESS_BYTES  # big enough to be compressed
    for n, (accept, expected) in enumerate(CASES, 1):
        # a spelling not seen before (the same normalised query): first the slow path, where
        # the inputs are parsed, then the hot path of a remembered target
        spelling = path.replace("q=", "q=" + "%20" * n)
        for attempt in ("first-request", "seen-before"):
            resp = await _get(app, spelling, accept)
            raw = await resp.read()
            seen = (accept, attempt)
            assert resp.status == 200, seen
            assert resp.headers.get("Content-Encoding") == expected, seen
            assert resp.headers["Vary"] == "Accept-Encoding", seen
            assert resp.headers["ETag"] == etag, seen  # the identity bytes' tag in every coding
            assert decode_body(expected, raw) == reference, seen
            if expected is not None:
                assert len(raw) < len(reference) // 2, seen


@pytest.mark.parametrize("path", [*BIG, SMALL])
@pytest.mark.parametrize("accept", ["identity;q=0", "*;q=0", "compress, identity;q=0"])
async def test_nothing_acceptable_is_406_problem(
    make_search_app: MakeSearchApp, path: str, accept: str
) -> None:
    app = await make_search_app()
    await _identity(app, path)  # the answer is cached and the target memoised
    resp = await _get(app, path, accept)
    assert resp.status == 406
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["request_id"]


@pytest.mark.parametrize("path", [*BIG, SMALL])
async def test_a_matching_if_none_match_is_304_in_every_coding(
    make_search_app: MakeSearchApp, path: str
) -> None:
    app = await make_search_app()
    _, etag = await _identity(app, path)
    for accept in (None, "gzip", "br", "gzip, deflate, br", "identity;q=0", "garbage;;"):
        for condition in (etag, f"W/{etag}", f'"x", {etag}', "*"):
            resp = await _get(app, path, accept, **{"If-None-Match": condition})
            assert resp.status == 304, (accept, condition)
            assert await resp.read() == b""
            assert resp.headers["ETag"] == etag
            assert resp.headers["Vary"] == "Accept-Encoding"
            assert "Content-Encoding" not in resp.headers
        other = await _get(app, path, accept, **{"If-None-Match": '"0000"'})
        assert other.status == (406 if accept == "identity;q=0" else 200)


async def test_small_answers_stay_identity_unless_identity_is_refused(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    reference, etag = await _identity(app, SMALL)
    assert len(reference) < MIN_COMPRESS_BYTES
    for accept in ("gzip", "br", "gzip, deflate, br"):
        resp = await _get(app, SMALL, accept)
        assert "Content-Encoding" not in resp.headers
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert await resp.read() == reference
    forced = await _get(app, SMALL, "gzip, identity;q=0")
    assert forced.headers["Content-Encoding"] == "gzip"
    assert forced.headers["ETag"] == etag
    assert gzip.decompress(await forced.read()) == reference


async def test_each_coding_is_compressed_once_per_answer(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, str]] = []
    original = representations.compress

    def counted(body: bytes, coding: str) -> bytes:
        calls.append((len(body), coding))
        return original(body, coding)

    monkeypatch.setattr(representations, "compress", counted)
    app = await make_search_app()
    path = BIG[0]
    reference, _ = await _identity(app, path)
    for accept in ("gzip", "gzip", "gzip, deflate", "x-gzip", "gzip;q=0.9"):
        resp = await _get(app, path, accept)
        assert gzip.decompress(await resp.read()) == reference
    resp = await _get(app, OTHER_SPELLING[path], "gzip")  # the same answer, another target
    assert gzip.decompress(await resp.read()) == reference
    assert calls == [(len(reference), "gzip")]
    for _ in range(3):
        resp = await _get(app, path, "br")
        assert brotli.decompress(await resp.read()) == reference
    assert calls == [(len(reference), "gzip"), (len(reference), "br")]


async def test_the_memo_of_accept_encoding_values_is_bounded(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    path = BIG[0]
    reference, _ = await _identity(app, path)
    headers = ["gzip, " + "x" * 200] + [f"gzip;q=0.{n:03d}" for n in range(1, 40)]
    for accept in headers:
        resp = await _get(app, path, accept)
        assert gzip.decompress(await resp.read()) == reference  # memoised or not, the answer
    ready = app.app[keys.REPRESENTATIONS].ready
    (entry,) = [r for r in ready.values() if r.body == reference]
    assert len(entry.answers) == representations._ANSWERS_MAX
    assert all(a is None or len(a) <= 128 for a in entry.answers)
    assert list(entry.coded) == ["gzip"]  # one compression for all forty
