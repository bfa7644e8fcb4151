"""What the simulated users pick: Zipf-ranked ids, the search query mix, simulator accounts.

Everything is deterministic given a `random.Random`, so two runs with one seed ask alike.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

__all__ = [
    "ACCOUNT_PASSWORD",
    "GENRES",
    "Zipf",
    "account",
    "search_queries",
    "sim_accounts",
    "typo",
]

EVAL_SET = Path(__file__).resolve().parents[1] / "data" / "search_eval.json"
GENRES = ("Action", "Comedy", "Drama", "Romance", "Fantasy", "Sci-Fi", "Slice of Life", "Sports")
ACCOUNT_PASSWORD = "kensho-load-pw"


class Zipf:
    """Ranks 0..n-1 drawn with P(k) proportional to 1/(k+1)**s: a few titles get most reads.

    The cumulative weights are computed once; a draw is one bisect.
    """

    def __init__(self, n: int, s: float = 1.1) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self._cdf = list(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n)))

    def rank(self, rng: random.Random) -> int:
        return min(bisect.bisect_left(self._cdf, rng.random() * self._cdf[-1]), self.n - 1)

    def pick(self, items: Sequence[str], rng: random.Random) -> str:
        """An item of `items` (most popular first), never past its end."""
        return items[min(self.rank(rng), len(items) - 1)]


@lru_cache(maxsize=1)
def search_queries() -> tuple[str, ...]:
    """The evaluation set's queries (every category: typos, romaji, kana, kanji, Chinese…)."""
    data = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    return tuple(item["q"] for item in data["queries"])


def typo(query: str, rng: random.Random) -> str:
    """`query` with one slip of the fingers: a swapped, dropped or doubled letter."""
    if len(query) < 4:
        return query
    i = rng.randrange(1, len(query) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return query[: i - 1] + query[i] + query[i - 1] + query[i + 1 :]
    if kind == 1:
        return query[:i] + query[i + 1 :]
    return query[:i] + query[i] + query[i:]


def account(n: int) -> str:
    """The n-th load-test account's e-mail (password: `ACCOUNT_PASSWORD`)."""
    return f"binge{n:03d}@load.kensho.dev"


def sim_accounts(count: int) -> str:
    """`KENSHO_SIM_ACCOUNTS` for `count` premium accounts: one per binge watcher, so no two
    watchers share an account's concurrent-stream limit."""
    return ";".join(f"{account(n)}:{ACCOUNT_PASSWORD}:premium" for n in range(count))
