import base64
import dataclasses
import json

import pytest
from search_sample import KEY, RECORDS

from kensho.errors import BadRequest, Gone
from kensho.search import SearchIndex, build_index


def all_pages(index: SearchIndex, q: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = index.search(q, limit=limit, after=cursor)
        seen.extend(h.id for h in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_pages_have_no_duplicates_or_gaps(index: SearchIndex, limit: int) -> None:
    full = [h.id for h in index.search("gate", limit=1000).items]
    assert len(full) > 40
    assert all_pages(index, "gate", limit) == full


def test_last_page_has_no_cursor(index: SearchIndex) -> None:
    full = index.search("gate", limit=1000)
    assert full.next_cursor is None
    assert index.search("gate", limit=len(full.items) - 1).next_cursor is not None


def test_cursor_continues_after_rebuild_of_same_data(index: SearchIndex) -> None:
    first = index.search("gate", limit=5)
    rebuilt = build_index(list(reversed(RECORDS)), cursor_key=KEY)
    second = rebuilt.search("gate", limit=5, after=first.next_cursor)
    expected = [h.id for h in index.search("gate", limit=10).items[5:]]
    assert [h.id for h in second.items] == expected


def test_cursor_after_data_change_is_gone(index: SearchIndex) -> None:
    first = index.search("gate", limit=5)
    changed = build_index(
        [dataclasses.replace(r, popularity=r.popularity + 1) for r in RECORDS], cursor_key=KEY
    )
    with pytest.raises(Gone):
        changed.search("gate", limit=5, after=first.next_cursor)


def test_cursor_from_another_query_is_rejected(index: SearchIndex) -> None:
    cursor = index.search("gate", limit=5).next_cursor
    with pytest.raises(BadRequest, match="different query"):
        index.search("gate keeper", limit=5, after=cursor)
    with pytest.raises(BadRequest, match="different query"):
        index.search("gate", kind="tv", limit=5, after=cursor)


def test_cursor_signed_with_another_key_is_rejected(index: SearchIndex) -> None:
    other = build_index(RECORDS, cursor_key=b"another-key")
    cursor = other.search("gate", limit=5).next_cursor
    with pytest.raises(BadRequest):
        index.search("gate", limit=5, after=cursor)


def test_tampered_cursor_is_rejected(index: SearchIndex) -> None:
    cursor = index.search("gate", limit=5).next_cursor
    assert cursor is not None
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["s"] = 999.0
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(BadRequest):
        index.search("gate", limit=5, after=f"{forged}.{mac}")


@pytest.mark.parametrize(
    "cursor",
    ["", ".", "abc", "abc.def", "a" * 5000, "é.é", "x" * 30 + "." + "y" * 22, "\x00.\x00", "a.b.c"],
)
def test_malformed_cursor_is_bad_request(index: SearchIndex, cursor: str) -> None:
    with pytest.raises(BadRequest):
        index.search("gate", limit=5, after=cursor)
