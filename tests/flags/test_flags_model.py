"""Flag settings and bucketing: validation, stable buckets, rollout shares (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kensho.config import ConfigError, load_config
from kensho.flags import (
    SEARCH_RANKING,
    FeatureFlags,
    FlagDefinition,
    FlagInputError,
    parse_configured,
)
from kensho.flags.model import BUCKETS, Setting, bucket_of, decide, parse_setting
from kensho.flags.service import share_of_variants

THREE = FlagDefinition(
    key="three",
    description="a flag with three variants",
    variants={"a": "a", "b": "b", "c": "c"},
    default_variant="a",
)


def test_a_setting_round_trips_and_orders_its_rollout_by_definition() -> None:
    s = parse_setting(THREE, {"default_variant": "a", "rollout": {"c": 12.5, "b": 0.01}})
    assert s == Setting(enabled=True, default_variant="a", rollout={"b": 1, "c": 1250})
    assert parse_setting(THREE, s.as_dict()) == s


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ("on", "body"),
        (None, "body"),
        ({}, "default_variant"),
        ({"default_variant": "zzz"}, "default_variant"),
        ({"default_variant": 1}, "default_variant"),
        ({"default_variant": "a" * 10_000}, "default_variant"),
        ({"default_variant": "a", "enabled": "yes"}, "enabled"),
        ({"default_variant": "a", "enabled": 1}, "enabled"),
        ({"default_variant": "a", "rollout": [["b", 5]]}, "rollout"),
        ({"default_variant": "a", "rollout": {"b": 101}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": -1}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": True}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": "5"}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": 1e308 * 10}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": 0.001}}, "rollout.b"),
        ({"default_variant": "a", "rollout": {"b": 60, "c": 41}}, "rollout"),
        ({"default_variant": "a", "rollout": {"<script>": 5}}, "rollout.<script>"),
        ({"default_variant": "a", "rollout": {str(i): 1 for i in range(50)}}, "rollout"),
        ({"default_variant": "a", "extra": 1}, "extra"),
        ({str(i): i for i in range(100)}, "body"),
    ],
)
def test_bad_settings_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(FlagInputError) as info:
        parse_setting(THREE, body)
    assert info.value.field == field


def test_buckets_are_stable_spread_and_salted_by_flag() -> None:
    assert bucket_of("three", "client:1.2.3.4") == bucket_of("three", "client:1.2.3.4")
    buckets = [bucket_of("three", f"client:{i}") for i in range(20_000)]
    assert all(0 <= b < BUCKETS for b in buckets)
    below = sum(b < BUCKETS // 10 for b in buckets) / len(buckets)
    assert 0.09 < below < 0.11  # 10 % of subjects fall in the first 10 % of buckets
    other = [bucket_of("other", f"client:{i}") for i in range(20_000)]
    assert sum(a == b for a, b in zip(buckets, other, strict=True)) < 100


def test_a_rollout_splits_by_percentage_and_growing_it_keeps_everyone_in() -> None:
    subjects = [f"account:{i}" for i in range(10_000)]
    ten = parse_setting(THREE, {"default_variant": "a", "rollout": {"b": 10}})
    thirty = parse_setting(THREE, {"default_variant": "a", "rollout": {"b": 30}})
    in_ten = {s for s in subjects if decide(THREE, ten, s).variant == "b"}
    in_thirty = {s for s in subjects if decide(THREE, thirty, s).variant == "b"}
    assert 900 < len(in_ten) < 1100 and 2800 < len(in_thirty) < 3200
    assert in_ten <= in_thirty
    assert {decide(THREE, ten, s).reason for s in subjects} == {"SPLIT", "DEFAULT"}


def test_reasons_off_static_and_no_subject() -> None:
    off = parse_setting(THREE, {"default_variant": "c", "enabled": False, "rollout": {"b": 100}})
    assert decide(THREE, off, "x").variant == "a" and decide(THREE, off, "x").reason == "DISABLED"
    static = parse_setting(THREE, {"default_variant": "c"})
    assert (
        decide(THREE, static, "x").variant == "c" and decide(THREE, static, "x").reason == "STATIC"
    )
    half = parse_setting(THREE, {"default_variant": "a", "rollout": {"b": 50}})
    assert (
        decide(THREE, half, None).variant == "a" and decide(THREE, half, None).reason == "DEFAULT"
    )
    everyone = parse_setting(THREE, {"default_variant": "a", "rollout": {"b": 100}})
    assert all(decide(THREE, everyone, f"s{i}").variant == "b" for i in range(100))


def test_shares_sum_to_one_hundred() -> None:
    s = parse_setting(THREE, {"default_variant": "c", "rollout": {"a": 12.34, "b": 50}})
    assert share_of_variants(THREE, s) == {"a": 12.34, "b": 50.0, "c": 37.66}
    off = Setting(enabled=False, default_variant="c", rollout={"b": 5000})
    assert share_of_variants(THREE, off) == {"a": 100.0, "b": 0.0, "c": 0.0}


def test_configured_flags_parse_or_say_what_is_wrong() -> None:
    parsed = parse_configured('{"search-ranking": {"default_variant": "popular-first"}}')
    assert parsed["search-ranking"].default_variant == "popular-first"
    for text, says in [
        ("nope", "not JSON"),
        ("[]", "JSON object"),
        ('{"no-such-flag": {}}', "unknown flag"),
        ('{"search-ranking": {"default_variant": "x"}}', "default_variant"),
        ("{" + " " * 70_000 + "}", "longer than"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_configured(text)
    assert SEARCH_RANKING.kind == "string"


def test_kensho_flags_is_validated_at_load() -> None:
    ok = load_config(
        environ={"KENSHO_FLAGS": '{"search-ranking": {"default_variant": "relevance"}}'}
    )
    assert ok.flags is not None and ok.flags_refresh == 5.0
    with pytest.raises(ConfigError, match=r"KENSHO_FLAGS is invalid: flag search-ranking: rollout"):
        load_config(
            environ={
                "KENSHO_FLAGS": '{"search-ranking": {"default_variant": "relevance", '
                '"rollout": {"popular-first": 200}}}'
            }
        )
    with pytest.raises(ConfigError, match="KENSHO_FLAGS_REFRESH"):
        load_config(environ={"KENSHO_FLAGS_REFRESH": "0"})


def test_a_toml_table_is_the_same_document(tmp_path: Path) -> None:
    toml = tmp_path / "kensho.toml"
    toml.write_text('[kensho.flags.search-ranking]\ndefault_variant = "popular-first"\n')
    config = load_config(environ={"KENSHO_CONFIG": str(toml)})
    assert config.flags is not None
    assert parse_configured(config.flags)["search-ranking"].default_variant == "popular-first"


def test_evaluations_go_through_openfeature_and_errors_yield_the_default() -> None:
    flags = FeatureFlags(configured={"search-ranking": Setting(True, "popular-first")})
    assert flags.variant("search-ranking", "client:1", "relevance") == "popular-first"
    assert flags.client.provider.get_metadata().name == "kensho"
    assert flags.variant("no-such-flag", "client:1", "fallback") == "fallback"
    assert flags.enabled("search-ranking", "client:1", True) is True  # a string flag: error
    assert flags.evaluations == {
        ("search-ranking", "popular-first"): 1,
        ("no-such-flag", "error"): 1,
        ("search-ranking", "error"): 1,
    }
    flags.configure({})
    assert flags.variant("search-ranking", "client:1", "relevance") == "relevance"


def test_varies_says_whether_the_setting_in_force_splits_subjects() -> None:
    same_value = FlagDefinition(
        key="same",
        description="two names, one value",
        variants={"x": "v", "y": "v"},
        default_variant="x",
    )
    flags = FeatureFlags(definitions={"three": THREE, "same": same_value})
    assert flags.varies("three") is False  # the built-in: everyone on `a`
    cases = [
        ({"default_variant": "a", "rollout": {"b": 0.01}}, True),
        ({"default_variant": "a", "rollout": {"b": 100}}, False),  # everyone on `b`
        ({"default_variant": "b", "rollout": {"b": 40, "c": 60}}, True),
        ({"default_variant": "a", "rollout": {"b": 0}}, False),
        ({"enabled": False, "default_variant": "a", "rollout": {"b": 50}}, False),  # kill switch
    ]
    for raw, split in cases:
        flags.configure({"three": parse_setting(THREE, raw)})
        assert flags.varies("three") is split, raw
    flags.configure(
        {"same": parse_setting(same_value, {"default_variant": "x", "rollout": {"y": 50}})}
    )
    assert flags.varies("same") is False  # different variants, the same value for everyone
    assert flags.varies("no-such-flag") is False
