"""Retry policy: full-jitter bounds, exponential growth, Retry-After parsing and capping."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from kensho.upstream.headers import parse_retry_after
from kensho.upstream.retry import RetryPolicy


def test_ceiling_grows_exponentially_then_caps() -> None:
    p = RetryPolicy(attempts=8, base_delay=0.1, factor=2.0, max_delay=1.0)
    assert [p.backoff_ceiling(n) for n in range(1, 7)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )


@pytest.mark.parametrize("u", [0.0, 0.25, 0.999999])
def test_full_jitter_is_uniform_fraction_of_ceiling(u: float) -> None:
    p = RetryPolicy(base_delay=0.5, factor=3.0, max_delay=100.0)
    for n in (1, 2, 3):
        assert p.delay(n, None, lambda: u) == pytest.approx(u * 0.5 * 3.0 ** (n - 1))


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    p = RetryPolicy(retry_after_cap=5.0)
    assert p.delay(1, 3.0, lambda: 0.9) == 3.0
    assert p.delay(1, 3600.0, lambda: 0.9) == 5.0


def test_absurd_attempt_numbers_stay_finite() -> None:
    p = RetryPolicy(max_delay=2.0)
    assert p.backoff_ceiling(10_000) == 2.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("9" * 100, None),
        ("Mon, 99 Foo 2024 25:61:61 GMT", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: ambiguous, refused
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=0.0) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 1, 1, 12, 0, 42, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(42.0)
    earlier = format_datetime(datetime(2025, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def test_non_idempotent_call_gets_one_attempt() -> None:
    policy = RetryPolicy(attempts=4)
    assert policy.attempts_for(idempotent=True) == 4
    assert policy.attempts_for(idempotent=False) == 1


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"base_delay": -1.0}, {"factor": 0.5}])
def test_invalid_policy_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]
