"""Encryption at rest of the upstream tokens in `kensho_sessions` (Fernet: AES-128-CBC + HMAC).

A leaked table or backup must not hand out Crunchyroll refresh tokens. The key comes from
`KENSHO_SESSION_ENCRYPTION_KEY` (comma-separated Fernet keys: the first encrypts, all decrypt, so
keys can be rotated); unset, a random key is minted once and kept in `data_dir` with mode 0600,
which is right for one replica only: every replica of a deployment must share the key.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kensho.config import Config, ConfigError

__all__ = [
    "KEY_FILE",
    "SessionCipher",
    "UndecryptableRecord",
    "load_session_cipher",
]

log = logging.getLogger(__name__)

KEY_FILE = "session_encryption.key"
_FIELD = "fernet"
_VERSION = 1
_MAX_KEYS = 8
_MAX_CIPHERTEXT = 64 * 1024
_VAR = "KENSHO_SESSION_ENCRYPTION_KEY"
_HOW = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class UndecryptableRecord(Exception):
    """A stored record that this key set cannot open (wrong key, tampering, or garbage)."""


class SessionCipher:
    """Wraps a token record as `{"v": 1, "fernet": <ciphertext>}` for a jsonb column, and back."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def generate(cls) -> SessionCipher:
        return cls([Fernet.generate_key()])

    def seal(self, record: Mapping[str, Any]) -> dict[str, Any]:
        token = self._fernet.encrypt(orjson.dumps(dict(record)))
        return {"v": _VERSION, _FIELD: token.decode("ascii")}

    def open(self, stored: Any) -> dict[str, Any]:
        """The plain record; `UndecryptableRecord` for anything but a record sealed by our keys."""
        if not isinstance(stored, Mapping):
            raise UndecryptableRecord("not an object")
        sealed = stored.get(_FIELD)
        if not isinstance(sealed, str) or not sealed or len(sealed) > _MAX_CIPHERTEXT:
            raise UndecryptableRecord("no ciphertext")
        try:
            plain = self._fernet.decrypt(sealed.encode("ascii"))
            doc = orjson.loads(plain)
        except (InvalidToken, UnicodeEncodeError, orjson.JSONDecodeError):
            raise UndecryptableRecord("wrong key or tampered ciphertext") from None
        if not isinstance(doc, dict):
            raise UndecryptableRecord("not an object")
        return doc

    @staticmethod
    def is_sealed(stored: Any) -> bool:
        return isinstance(stored, Mapping) and _FIELD in stored


def _parse_keys(text: str) -> list[bytes]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or len(parts) > _MAX_KEYS:
        raise ConfigError(f"{_VAR}=*** is invalid: give 1 to {_MAX_KEYS} comma-separated keys")
    keys = []
    for i, part in enumerate(parts, 1):
        try:
            Fernet(part.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                f"{_VAR}=*** is invalid: key {i} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes); {_HOW}"
            ) from None
        keys.append(part.encode("ascii"))
    return keys


def load_session_cipher(config: Config) -> SessionCipher:
    """The configured keys, else the key persisted in `data_dir` (created on first use).

    Blocking file I/O: call it through `asyncio.to_thread` from the event loop.
    """
    if config.session_encryption_key:
        return SessionCipher(_parse_keys(config.session_encryption_key))
    path = Path(config.data_dir) / KEY_FILE
    key, created = _persisted_key(path)
    log.warning(
        "%s unset: upstream tokens are encrypted with a key %s %s; every replica of a "
        "deployment must share one key, so set %s there",
        _VAR,
        "generated and stored in" if created else "read from",
        path,
        _VAR,
    )
    return SessionCipher([key])


def _persisted_key(path: Path) -> tuple[bytes, bool]:
    """(key, created). Written to a private temp file, then hard-linked into place: two
    processes starting together agree on one key and never read a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = Fernet.generate_key()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key + b"\n")
            os.link(tmp, path)
            return key, True
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s was readable by others (mode %o); now 0600", path, mode)
    text = path.read_text("ascii", errors="replace").strip()
    try:
        Fernet(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ConfigError(
            f"{path} does not hold a Fernet key; restore it, or delete it to mint a new one "
            "(sessions stored under the old key then need a new login)"
        ) from None
    return text.encode("ascii"), False
