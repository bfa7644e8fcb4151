"""The authentication audit trail: one `auth_audit` row per event, never a secret.

Only who (username), from where (address, user agent), when, which request, and a short
detail the code chooses (never request text that could hold a password or token). A failed
write is logged and swallowed: losing one audit row must not lock every user out.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from kensho.store.pool import execute

__all__ = ["AuditEvent", "AuditRecord", "AuditWriter"]

log = logging.getLogger("kensho.audit")


class AuditEvent(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    RATE_LIMITED = "rate_limited"
    LOGOUT = "logout"
    REFRESH_FAILURE = "refresh_failure"


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value.replace("\x00", "")[:limit]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    event: AuditEvent
    username: str | None
    client_address: str | None
    user_agent: str | None
    request_id: str | None
    detail: str | None = None


class AuditWriter:
    """Writes `AuditRecord`s to PostgreSQL (and a structured log line without secrets)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.failed_writes = 0

    async def write(self, record: AuditRecord) -> None:
        row = (
            record.event.value,
            _clip(record.username, 320),
            _clip(record.client_address, 64),
            _clip(record.user_agent, 512),
            _clip(record.request_id, 128),
            _clip(record.detail, 256),
        )
        log.info(
            "auth %s",
            record.event.value,
            extra={
                "event": "auth_audit",
                "auth_event": record.event.value,
                "username": row[1],
                "client": row[2],
                "request_id": row[4],
            },
        )
        try:
            await execute(
                self._pool,
                "INSERT INTO auth_audit (event, username, client_address, user_agent, "
                "request_id, detail) VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )
        except Exception as exc:  # the database may be down; the login decision stands
            self.failed_writes += 1
            log.error("auth audit write failed: %s", type(exc).__name__)
