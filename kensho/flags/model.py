"""Flags, their settings and the rollout arithmetic: plain data, no I/O, no OpenFeature.

A flag is *defined* in code (`kensho.flags.definitions`): its key, its variants and the
variant a replica uses when nobody configured anything. What operators choose is a `Setting`:
on or off, the variant everybody gets (`default_variant`), and a percentage rollout of other
variants. A subject (an account or a client) lands in a bucket 0..9999 by a stable hash of the
flag key and its id, so the same subject sees the same variant on every replica and across
restarts, and raising a percentage only ever moves subjects *into* the rolled-out variant.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "BUCKETS",
    "MAX_BODY_KEYS",
    "Decision",
    "FlagDefinition",
    "FlagInputError",
    "Setting",
    "bucket_of",
    "decide",
    "parse_setting",
]

#: Buckets per flag: percentages are honoured to 0.01 %.
BUCKETS: Final = 10_000
#: A setting has three fields; a body with more keys than this is refused before reading them.
MAX_BODY_KEYS: Final = 8
_MAX_VARIANT_NAME: Final = 64


class FlagInputError(ValueError):
    """A setting is invalid: `field` names the offending field, the message says why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    """A flag the code knows: which variants exist (name -> value) and the built-in one."""

    key: str
    description: str
    variants: Mapping[str, bool | str]
    default_variant: str

    def __post_init__(self) -> None:
        if self.default_variant not in self.variants:
            raise ValueError(f"flag {self.key}: default variant not among its variants")
        kinds = {type(v) for v in self.variants.values()}
        if len(kinds) != 1:
            raise ValueError(f"flag {self.key}: every variant value has one type")

    @property
    def kind(self) -> str:
        """`boolean` or `string`, as OpenFeature evaluates it."""
        return "boolean" if isinstance(next(iter(self.variants.values())), bool) else "string"

    def builtin(self) -> Setting:
        """The setting of a replica given no configuration: everybody on the default."""
        return Setting(enabled=True, default_variant=self.default_variant)


@dataclass(frozen=True, slots=True)
class Setting:
    """What operators chose for one flag. `rollout` maps variant -> basis points (1/100 %)."""

    enabled: bool
    default_variant: str
    rollout: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (the PUT body, the Redis value, `KENSHO_FLAGS` entries)."""
        return {
            "enabled": self.enabled,
            "default_variant": self.default_variant,
            "rollout": {name: bp / 100 for name, bp in self.rollout.items()},
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation: the variant, its value and why (an OpenFeature reason)."""

    variant: str
    value: bool | str
    reason: str


def parse_setting(definition: FlagDefinition, raw: Any) -> Setting:
    """Validate a JSON setting for `definition`; `FlagInputError` names the first bad field.

    Fields: `default_variant` (required), `enabled` (default true), `rollout` (variant ->
    percent, 0..100 in steps of 0.01, summing to at most 100; default none). Unknown fields
    are errors, so a typo never silently keeps the old behaviour.
    """
    if not isinstance(raw, Mapping):
        raise FlagInputError("body", "must be a JSON object")
    if len(raw) > MAX_BODY_KEYS:
        raise FlagInputError("body", "has too many fields")
    unknown = sorted(str(k) for k in raw if k not in ("enabled", "default_variant", "rollout"))
    if unknown:
        raise FlagInputError(unknown[0][:_MAX_VARIANT_NAME], "unknown field")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FlagInputError("enabled", "must be true or false")
    default = raw.get("default_variant")
    if default is None:
        raise FlagInputError("default_variant", "required")
    _check_variant(definition, "default_variant", default)
    rollout_raw = raw.get("rollout", {})
    if not isinstance(rollout_raw, Mapping):
        raise FlagInputError("rollout", "must be an object of variant: percent")
    if len(rollout_raw) > len(definition.variants):
        raise FlagInputError("rollout", "names more variants than the flag has")
    rollout: dict[str, int] = {}
    for name, percent in rollout_raw.items():
        _check_variant(definition, f"rollout.{str(name)[:_MAX_VARIANT_NAME]}", name, key=True)
        where = f"rollout.{name}"
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise FlagInputError(where, "must be a number from 0 to 100")
        if not math.isfinite(percent) or not 0 <= percent <= 100:
            raise FlagInputError(where, "must be a number from 0 to 100")
        points = round(percent * 100)
        if abs(points - percent * 100) > 1e-6:
            raise FlagInputError(where, "at most two decimals (0.01 % steps)")
        if points and name != default:
            rollout[name] = points
    if sum(rollout.values()) > BUCKETS:
        raise FlagInputError("rollout", "the percentages add up to more than 100")
    # Definition order, so the buckets a variant covers never depend on the body's key order.
    ordered = {name: rollout[name] for name in definition.variants if name in rollout}
    return Setting(enabled=enabled, default_variant=default, rollout=ordered)


def _check_variant(definition: FlagDefinition, where: str, name: Any, *, key: bool = False) -> None:
    if not isinstance(name, str) or not name or len(name) > _MAX_VARIANT_NAME:
        raise FlagInputError(where, "must be a variant name")
    if name not in definition.variants:
        allowed = ", ".join(definition.variants)
        raise FlagInputError(where, f"not a variant of {definition.key} (allowed: {allowed})")


def bucket_of(flag_key: str, subject: str) -> int:
    """The subject's bucket for this flag, 0..BUCKETS-1: stable everywhere, independent per
    flag (the key salts the hash, so one subject is not in every flag's first percent)."""
    digest = hashlib.blake2b(f"{flag_key}\x00{subject}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def decide(definition: FlagDefinition, setting: Setting, subject: str | None) -> Decision:
    """The variant `subject` gets: off -> the built-in default; else by bucket.

    Reasons as OpenFeature names them: DISABLED, STATIC (no rollout), SPLIT (a rolled-out
    variant by bucket), DEFAULT (outside every rollout, or no subject to bucket).
    """
    variants = definition.variants
    if not setting.enabled:
        name = definition.default_variant
        return Decision(name, variants[name], "DISABLED")
    if not setting.rollout:
        name = setting.default_variant
        return Decision(name, variants[name], "STATIC")
    if subject is not None:
        bucket = bucket_of(definition.key, subject)
        upper = 0
        for name, points in setting.rollout.items():
            upper += points
            if bucket < upper:
                return Decision(name, variants[name], "SPLIT")
    name = setting.default_variant
    return Decision(name, variants[name], "DEFAULT")
