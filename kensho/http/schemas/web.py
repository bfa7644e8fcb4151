"""Path parameters of the web front end's routes (pages and assets)."""

from __future__ import annotations

from marshmallow import fields, validate

from kensho.http.schemas._base import QuerySchema, describe

__all__ = ["ASSET_NAME_PATTERN", "AssetPathSchema"]

#: What `web/build.mjs` names assets: `<name>-<hash>.<ext>`.
ASSET_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"


class AssetPathSchema(QuerySchema):
    """`{name}` in `/assets/{name}`."""

    name = fields.String(
        required=True,
        validate=validate.Regexp(ASSET_NAME_PATTERN),
        metadata=describe("a built asset's file name, e.g. viewer-5KQ2ZJ3H.js"),
    )
