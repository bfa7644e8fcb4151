"""Feature-flag bodies: `GET /admin/flags` and `PUT /admin/flags/{key}` (kensho.flags).

The PUT body is validated by `kensho.flags.parse_setting` (one grammar for the API, Redis and
`KENSHO_FLAGS`); this schema documents it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.flags import FLAGS
from kensho.http.schemas._base import BodySchema, ResponseSchema, describe

__all__ = ["FlagListSchema", "FlagSchema", "FlagSettingSchema"]

_PERCENT = fields.Float(validate=validate.Range(min=0, max=100))
#: Every variant of every flag; which belong to the flag in the path is checked on PUT (422).
_VARIANTS = sorted({name for flag in FLAGS.values() for name in flag.variants})


class FlagSettingSchema(BodySchema):
    """A flag's setting: who gets which variant."""

    enabled = fields.Boolean(
        load_default=True,
        metadata=describe("false: everyone gets the flag's built-in variant (a kill switch)"),
    )
    default_variant = fields.String(
        required=True,
        validate=validate.OneOf(_VARIANTS),
        metadata=describe("the variant of everyone outside the rollout"),
    )
    rollout = fields.Dict(
        keys=fields.String(validate=validate.OneOf(_VARIANTS)),
        values=_PERCENT,
        load_default=dict,
        metadata=describe(
            "variant -> percent of subjects (0..100, 0.01 steps, at most 100 in all); a "
            "subject's bucket is a stable hash of the flag key and its account or client id"
        ),
    )

    example: ClassVar[Any] = {
        "enabled": True,
        "default_variant": "relevance",
        "rollout": {"popular-first": 10},
    }


class FlagSchema(ResponseSchema):
    """One flag: its definition, the setting in force here and where it comes from."""

    key = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["boolean", "string"]))
    description = fields.String(required=True)
    variants = fields.List(fields.String(), required=True)
    setting = fields.Nested(FlagSettingSchema, required=True)
    source = fields.String(
        required=True,
        validate=validate.OneOf(["redis", "config", "default"]),
        metadata=describe("redis: the fleet's override; config: KENSHO_FLAGS; default: built-in"),
    )
    configured = fields.Nested(
        FlagSettingSchema, required=True, metadata=describe("what applies without an override")
    )
    shares = fields.Dict(
        keys=fields.String(), values=_PERCENT, metadata=describe("percent of subjects by variant")
    )
    updated_at = fields.String(allow_none=True, metadata=describe("when the override was set"))
    evaluations = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata=describe("evaluations by variant on this replica since it started"),
    )

    example: ClassVar[Any] = {
        "key": "search-ranking",
        "type": "string",
        "description": "Order of a search page: relevance or popular-first",
        "variants": ["relevance", "popular-first"],
        "setting": {
            "enabled": True,
            "default_variant": "relevance",
            "rollout": {"popular-first": 10},
        },
        "source": "redis",
        "configured": {"enabled": True, "default_variant": "relevance", "rollout": {}},
        "shares": {"relevance": 90.0, "popular-first": 10.0},
        "updated_at": "2026-11-30T00:10:00.000Z",
        "evaluations": {"relevance": 1520, "popular-first": 171},
    }


class FlagListSchema(ResponseSchema):
    """Every flag, and whether this replica follows the fleet's overrides in Redis."""

    redis = fields.String(
        required=True,
        validate=validate.OneOf(["up", "down", "unknown"]),
        metadata=describe("down: the configured settings are in force on this replica"),
    )
    refresh_s = fields.Float(metadata=describe("overrides are re-read at least this often"))
    flags = fields.List(fields.Nested(FlagSchema), required=True)

    example: ClassVar[Any] = {"redis": "up", "refresh_s": 5.0, "flags": [FlagSchema.example]}
