"""Every flag the code knows. A flag is added here with the behaviour it switches; operators
choose its setting (`KENSHO_FLAGS`, `PUT /admin/flags/{key}`) but never invent variants the
code could not honour."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from kensho.flags.model import FlagDefinition, FlagInputError, Setting, parse_setting

__all__ = ["FLAGS", "SEARCH_RANKING", "parse_configured"]

#: How a search page orders its hits (`kensho.search.service`): `relevance` is the index's
#: score order; `popular-first` keeps each page's hits but lists exact matches, then prefix,
#: then fuzzy ones, most popular first within each kind.
SEARCH_RANKING: Final = FlagDefinition(
    key="search-ranking",
    description=(
        "Order of a search page: relevance (the index's score) or popular-first (by match "
        "kind, then by popularity)"
    ),
    variants={"relevance": "relevance", "popular-first": "popular-first"},
    default_variant="relevance",
)

FLAGS: Final[Mapping[str, FlagDefinition]] = {d.key: d for d in (SEARCH_RANKING,)}

_MAX_CONFIG_BYTES: Final = 64 * 1024


def parse_configured(text: str, flags: Mapping[str, FlagDefinition] = FLAGS) -> dict[str, Setting]:
    """`KENSHO_FLAGS`: a JSON object of flag key -> setting (as the PUT body). ValueError
    with a one-line reason naming the flag and field."""
    if len(text) > _MAX_CONFIG_BYTES:
        raise ValueError(f"longer than {_MAX_CONFIG_BYTES} bytes")
    try:
        doc: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError('not JSON: expected {"flag-key": {"default_variant": ...}, ...}') from None
    if not isinstance(doc, dict):
        raise ValueError('expected a JSON object {"flag-key": {...}, ...}')
    out: dict[str, Setting] = {}
    for key, raw in doc.items():
        definition = flags.get(key)
        if definition is None:
            raise ValueError(f"unknown flag {key[:64]!r} (known: {', '.join(flags)})")
        try:
            out[key] = parse_setting(definition, raw)
        except FlagInputError as exc:
            raise ValueError(f"flag {key}: {exc}") from None
    return out
