"""Login, sessions, audit and stream URLs on top of `kensho.upstream` (issue 4; docs/auth.md)."""

from kensho.auth.audit import AuditEvent, AuditRecord, AuditWriter
from kensho.auth.bandwidth import BandwidthMonitor
from kensho.auth.grants import GrantStore, StreamGrant
from kensho.auth.limiter import LoginLimiter
from kensho.auth.playback import PlaybackService
from kensho.auth.quality import parse_master, select_quality
from kensho.auth.revocations import RevocationBus
from kensho.auth.service import AuthService, Caller
from kensho.auth.store import SessionStore

__all__ = [
    "AuditEvent",
    "AuditRecord",
    "AuditWriter",
    "AuthService",
    "BandwidthMonitor",
    "Caller",
    "GrantStore",
    "LoginLimiter",
    "PlaybackService",
    "RevocationBus",
    "SessionStore",
    "StreamGrant",
    "parse_master",
    "select_quality",
]
