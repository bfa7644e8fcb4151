"""`bench.loadgen.paired_rounds`: alternating order, per-round ratios, medians (no servers)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.loadgen import median_fields, paired_rounds


def _recorder(name: str, rps: list[float], calls: list[str]) -> Callable[[], dict[str, float]]:
    it = iter(rps)

    def measure() -> dict[str, float]:
        calls.append(name)
        return {"rps": next(it), "p99_ms": 1.0}

    return measure


def test_order_alternates_and_ratio_is_the_median_of_round_ratios() -> None:
    calls: list[str] = []
    base = _recorder("base", [100.0, 200.0, 100.0, 50.0, 120.0], calls)
    cand = _recorder("cand", [50.0, 180.0, 90.0, 10.0, 84.0], calls)
    result = paired_rounds(base, cand, 5)

    assert calls == ["base", "cand", "cand", "base"] * 2 + ["base", "cand"]
    assert result["ratios"] == pytest.approx([0.5, 0.9, 0.9, 0.2, 0.7])
    # The median of per-round ratios, not the ratio of medians (84 / 100):
    assert result["ratio"] == pytest.approx(0.7)
    assert (result["ratio_min"], result["ratio_max"]) == pytest.approx((0.2, 0.9))
    assert result["baseline"] == {"rps": 100.0, "p99_ms": 1.0}
    assert result["candidate"] == {"rps": 84.0, "p99_ms": 1.0}
    assert [r["rps"] for r in result["candidate_runs"]] == [50.0, 180.0, 90.0, 10.0, 84.0]


def test_median_fields_even_count_averages_the_middle_pair() -> None:
    runs = [{"rps": 1.0, "p50_ms": 4.0}, {"rps": 3.0, "p50_ms": 2.0}]
    assert median_fields(runs) == {"rps": 2.0, "p50_ms": 3.0}


def test_rounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rounds"):
        paired_rounds(lambda: {"rps": 1.0}, lambda: {"rps": 1.0}, 0)
