"""The player heartbeat body (issue 4): what a player received, for bandwidth monitoring."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import BodySchema, ResponseSchema, describe
from kensho.http.schemas.streams import QUALITIES

__all__ = ["BandwidthViewSchema", "HeartbeatSchema"]


class HeartbeatSchema(BodySchema):
    """Bytes a player received for one episode at one quality over `seconds`."""

    episode_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"),
        metadata=describe("the episode being played"),
    )
    quality = fields.String(required=True, validate=validate.OneOf(QUALITIES))
    bytes = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1 << 40))
    seconds = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(min=0.001, max=3600)
    )

    example: ClassVar[Any] = {
        "episode_id": "GY8VEQ95YS01E001",
        "quality": "1080p",
        "bytes": 7340032,
        "seconds": 10.0,
    }


class BandwidthViewSchema(ResponseSchema):
    """Per-quality aggregates of player heartbeats."""

    qualities = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)

    example: ClassVar[Any] = {
        "qualities": {
            "1080p": {
                "reports": 12,
                "bytes": 88080384,
                "seconds": 120.0,
                "average_kbps": 5872.0,
                "underruns": 3,
            }
        }
    }
