"""Feature-flag evaluation cost: OpenFeature per call vs the memoised decision vs none.

Run: `python -m bench flags` (prints JSON). One process, one run, alternating rounds so the
shared machine's noise hits every variant alike; compare the ratios, not the microseconds.
`FeatureFlags.variant` evaluates through the OpenFeature client once per (flag, subject) and
setting change and then answers from its memo; `openfeature` is what every call would cost
without the memo, `decide` the bare bucketing it wraps.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from openfeature.evaluation_context import EvaluationContext

from kensho.flags import SEARCH_RANKING, FeatureFlags, Setting
from kensho.flags.model import decide

ROUNDS = 7
CALLS = 5_000
SUBJECTS = [f"client:10.0.{i // 256}.{i % 256}" for i in range(500)]


def _per_call(fn: Callable[[str], Any]) -> float:
    t0 = time.perf_counter()
    for i in range(CALLS):
        fn(SUBJECTS[i % len(SUBJECTS)])
    return (time.perf_counter() - t0) / CALLS * 1e6


def main() -> dict[str, Any]:
    setting = Setting(enabled=True, default_variant="relevance", rollout={"popular-first": 1000})
    flags = FeatureFlags(configured={SEARCH_RANKING.key: setting})
    key = SEARCH_RANKING.key
    variants: dict[str, Callable[[str], Any]] = {
        "memoised": lambda s: flags.variant(key, s, "relevance"),
        "openfeature": lambda s: flags.client.get_string_value(
            key, "relevance", EvaluationContext(targeting_key=s)
        ),
        "decide": lambda s: decide(SEARCH_RANKING, flags.setting(SEARCH_RANKING), s),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(ROUNDS):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            samples[name].append(_per_call(variants[name]))
    med = {name: round(statistics.median(v), 2) for name, v in samples.items()}
    return {
        "calls_per_round": CALLS,
        "rounds": ROUNDS,
        "median_us_per_call": med,
        "openfeature_over_memoised": round(med["openfeature"] / med["memoised"], 1),
        "openfeature_over_decide": round(med["openfeature"] / med["decide"], 1),
    }
