"""Signing keys and the one signed-cursor codec for the opaque tokens the API hands out.

`CursorCodec` signs every cursor (browse, episode lists, search, export) the same way, with
itsdangerous: `base64url(JSON payload) "." base64url(HMAC-SHA256)`, the scope (route and
filters) as the signer's salt, so a cursor minted for one query never verifies for another.

Cursors must verify on every replica and after every restart, so all of them derive from one
secret, each under its own purpose (a search cursor never verifies as a browse cursor):
`KENSHO_CURSOR_SECRET` wins; else a key derived from `KENSHO_ADMIN_TOKEN`, which the replicas
of one deployment share; else a random key persisted in `data_dir/signing.key` (one host
only); else, with an unwritable data dir, a per-process key (logged, cursors then die with
the process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

import orjson
from itsdangerous import BadSignature, Signer

from kensho.config import Config

__all__ = ["KEY_FILE", "MAX_CURSOR_LENGTH", "CursorCodec", "InvalidCursor", "derive_key"]

log = logging.getLogger(__name__)

KEY_FILE = "signing.key"


def derive_key(config: Config, purpose: str) -> bytes:
    """A 32-byte key for `purpose`, stable across restarts and replicas (see above)."""
    label = b"kensho.signing\0" + purpose.encode()
    if config.cursor_secret:
        return hmac.new(config.cursor_secret.encode(), label, hashlib.sha256).digest()
    if config.admin_token:
        return hmac.new(config.admin_token.encode(), label, hashlib.sha256).digest()
    path = Path(config.data_dir) / KEY_FILE
    try:
        root = _persisted_key(path)
    except OSError as exc:
        log.warning("cannot persist a signing key in %s (%s); using one per process", path, exc)
        root = secrets.token_bytes(32)
    return hmac.new(root, label, hashlib.sha256).digest()


def _persisted_key(path: Path) -> bytes:
    """Read the key file, creating it (0600, exclusively: racing processes agree) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text("ascii").strip()
        if len(text) >= 64:
            return bytes.fromhex(text[:64])
        raise OSError(f"{path} is damaged; delete it to mint a new key") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text("ascii").strip()[:64])


#: Longest cursor accepted at all; anything longer is refused before any work.
MAX_CURSOR_LENGTH = 512
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,460}\.[A-Za-z0-9_-]{43}$")


class InvalidCursor(ValueError):
    """A cursor that is malformed, forged, or minted for another scope (message says which)."""


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class CursorCodec:
    """Signs JSON payloads into opaque cursors and verifies them, per scope."""

    def __init__(self, key: bytes | str | None = None) -> None:
        self._key = secrets.token_bytes(32) if key is None else key

    def _signer(self, scope: str) -> Signer:
        return Signer(
            self._key,
            salt=scope.encode("utf-8", "surrogatepass"),
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )

    def encode(self, scope: str, payload: Any) -> str:
        """A cursor carrying `payload` (JSON-serialisable) for `scope` (route + filters)."""
        cursor = self._signer(scope).sign(_b64(orjson.dumps(payload))).decode("ascii")
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("cursor payload too large")
        return cursor

    def decode(self, scope: str, cursor: str) -> Any:
        """The payload of a cursor this codec signed for `scope`; raises `InvalidCursor`."""
        if (
            not isinstance(cursor, str)
            or len(cursor) > MAX_CURSOR_LENGTH
            or not _SHAPE.match(cursor)
        ):
            raise InvalidCursor("malformed cursor; pass next_cursor from the previous page as is")
        try:
            body = self._signer(scope).unsign(cursor.encode("ascii"))
        except BadSignature:
            raise InvalidCursor("invalid cursor (forged, or from another query)") from None
        try:
            return orjson.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except ValueError:  # signed by us, so only a changed payload format gets here
            raise InvalidCursor("malformed cursor") from None
