"""`?fields=a,b,c`: return only some top-level fields of a representation.

The selection is canonicalised (sorted, de-duplicated) so `title,id` and `id,title,id` share one
cached representation and one ETag; a different selection is different bytes, hence a different
ETag. An unknown name is a 400 problem that lists the allowed ones. The selection itself is
applied by `kensho.catalog.representation.select_fields`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kensho.errors import ValidationFailed

__all__ = ["MAX_FIELDS_LENGTH", "parse_fields"]

MAX_FIELDS_LENGTH = 300
_NAME = re.compile(r"^[a-z_]{1,32}$")


def parse_fields(raw: str | None, allowed: Sequence[str]) -> tuple[str, ...] | None:
    """The canonical selection, or None for "every field"; raises `ValidationFailed` (400)."""
    if raw is None:
        return None
    if len(raw) > MAX_FIELDS_LENGTH:
        raise ValidationFailed.field(
            "fields", f"longer than {MAX_FIELDS_LENGTH} characters", status=400
        )
    names = {part.strip() for part in raw.split(",")}
    names.discard("")
    if not names:
        raise ValidationFailed.field("fields", "name at least one field", status=400)
    unknown = sorted(n for n in names if n not in allowed)
    if unknown:
        shown = ", ".join(n if _NAME.match(n) else repr(n[:32]) for n in unknown[:5])
        raise ValidationFailed.field(
            "fields", f"unknown field(s) {shown}; allowed: {', '.join(allowed)}", status=400
        )
    return tuple(sorted(names))
