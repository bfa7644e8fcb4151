"""Search: normalisation, an immutable fuzzy index over every title, suggestions, cursors.

Plain logic, no threads: the search actor builds a `SearchIndex` with `build_index()` on its own
thread and publishes it; handlers call `search()` / `suggest()` on the published snapshot.
"""

from kensho.search.index import (
    ALGORITHM_VERSION,
    BuildCancelled,
    Hit,
    SearchIndex,
    SearchPage,
    build_index,
)
from kensho.search.normalize import normalize, tokens
from kensho.search.records import SearchRecord, from_catalog_entry
from kensho.search.suggest import Suggestion
from kensho.search.validate import (
    validate_cursor,
    validate_genre,
    validate_kind,
    validate_limit,
    validate_query,
)

__all__ = [
    "ALGORITHM_VERSION",
    "BuildCancelled",
    "Hit",
    "SearchIndex",
    "SearchPage",
    "SearchRecord",
    "Suggestion",
    "build_index",
    "from_catalog_entry",
    "normalize",
    "tokens",
    "validate_cursor",
    "validate_genre",
    "validate_kind",
    "validate_limit",
    "validate_query",
]
