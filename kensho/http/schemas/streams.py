"""Stream URL bodies and parameters (issue 4)."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from kensho.http.schemas._base import BodySchema, QuerySchema, ResponseSchema, describe

__all__ = [
    "QUALITIES",
    "StreamHeartbeatSchema",
    "StreamQuerySchema",
    "StreamResponseSchema",
    "SubtitleSchema",
]

QUALITIES = ("1080p", "720p", "480p", "360p")


class StreamQuerySchema(QuerySchema):
    """`/api/episodes/{id}/stream` parameters."""

    quality = fields.String(load_default="auto", validate=validate.OneOf(("auto", *QUALITIES)))
    bandwidth_kbps = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=10_000_000),
        metadata=describe("the player's measured bandwidth; picks the best quality that fits"),
    )


class SubtitleSchema(ResponseSchema):
    """A subtitle track."""

    lang = fields.String(required=True, metadata=describe("BCP 47 tag, e.g. en-US"))
    url = fields.String(required=True)
    format = fields.String(validate=validate.OneOf(["ass", "vtt", "srt"]))


class StreamResponseSchema(ResponseSchema):
    """Where to play an episode; valid until `expires_at`."""

    manifest_url = fields.String(required=True, metadata=describe("HLS or DASH manifest URL"))
    quality = fields.String(required=True, validate=validate.OneOf(QUALITIES))
    qualities = fields.List(
        fields.String(validate=validate.OneOf(QUALITIES)),
        required=True,
        metadata=describe("every quality this episode offers"),
    )
    subtitles = fields.List(fields.Nested(SubtitleSchema), required=True)
    expires_at = fields.DateTime(required=True)

    example: ClassVar[Any] = {
        "manifest_url": "https://cdn.example.com/v/GY8VEQ95YS01E001/master.m3u8?token=…",
        "quality": "1080p",
        "qualities": ["1080p", "720p", "480p", "360p"],
        "subtitles": [
            {"lang": "en-US", "url": "https://cdn.example.com/s/en.ass", "format": "ass"}
        ],
        "expires_at": "2025-06-01T12:05:00Z",
    }


class StreamHeartbeatSchema(BodySchema):
    """A player's bandwidth report: bytes received over a period."""

    bytes = fields.Integer(required=True, validate=validate.Range(min=0, max=1 << 40))
    seconds = fields.Float(required=True, validate=validate.Range(min=0.001, max=3600))

    example: ClassVar[Any] = {"bytes": 7340032, "seconds": 10.0}
