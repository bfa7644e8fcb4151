import pytest

from kensho.errors import ValidationFailed
from kensho.search import (
    validate_cursor,
    validate_genre,
    validate_kind,
    validate_limit,
    validate_query,
)


def field_of(exc: ValidationFailed) -> str:
    return str(exc.extra["errors"][0]["field"])


def test_query_is_trimmed() -> None:
    assert validate_query("  steins gate \n") == "steins gate"
    assert validate_query("進") == "進"
    assert validate_query("a" * 200) == "a" * 200
    assert validate_query("  " + "a" * 200 + "  ") == "a" * 200  # length counts after trimming


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "\t\n",
        "a" * 201,
        "進" * 201,
        "gate\x00",
        "gate\x1b[2J",
        "ga\x7fte",
        "\u202egate",  # right-to-left override
        "gate\u2066",
        "\ud800gate",  # lone surrogate
    ],
)
def test_bad_queries_are_400_naming_q(raw: str | None) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_query(raw)
    assert info.value.status == 400
    assert field_of(info.value) == "q"


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 20), ("", 20), ("1", 1), ("50", 50), (" 7 ", 7)]
)
def test_limit_accepts(raw: str | None, expected: int) -> None:
    assert validate_limit(raw) == expected


@pytest.mark.parametrize(
    "raw", ["0", "51", "-1", "1.5", "ten", "1e1", "٣", "9" * 400, "0x10", "+5"]
)
def test_limit_rejects(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_limit(raw)
    assert info.value.status == 400
    assert field_of(info.value) == "limit"


def test_kind_and_genre() -> None:
    assert validate_kind(None) is None
    assert validate_kind("Movie") == "movie"
    assert validate_genre(" Sci-Fi ") == "sci-fi"
    assert validate_genre(None) is None
    for bad_kind in ("film", "tv\x00", "x" * 1000):
        with pytest.raises(ValidationFailed) as info:
            validate_kind(bad_kind)
        assert field_of(info.value) == "type"
    for bad_genre in ("   ", "a" * 41, "drama\x00", "\u202edrama"):
        with pytest.raises(ValidationFailed) as info:
            validate_genre(bad_genre)
        assert field_of(info.value) == "genre"


def test_cursor_shape() -> None:
    assert validate_cursor(None) is None
    assert validate_cursor("") is None
    assert validate_cursor("abc.def") == "abc.def"
    for bad in ("a" * 513, "é.x", "a\x00b", "a b\n"):
        with pytest.raises(ValidationFailed) as info:
            validate_cursor(bad)
        assert info.value.status == 400
        assert field_of(info.value) == "cursor"
