"""Signing keys for opaque tokens the API hands out (list and search cursors).

Cursors must verify on every replica and after every restart, so all of them derive from one
secret, each under its own purpose (a search cursor never verifies as a browse cursor):
`KENSHO_CURSOR_SECRET` wins; else a key derived from `KENSHO_ADMIN_TOKEN`, which the replicas
of one deployment share; else a random key persisted in `data_dir/signing.key` (one host
only); else, with an unwritable data dir, a per-process key (logged, cursors then die with
the process).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from kensho.config import Config

__all__ = ["KEY_FILE", "derive_key"]

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
