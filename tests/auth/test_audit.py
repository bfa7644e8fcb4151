"""The audit trail when PostgreSQL is down: the write is counted and logged, never raised (a
lost audit row must not lock every user out), and the structured log line still carries it."""

from __future__ import annotations

import logging

import pytest
from redisproxy import free_port

from kensho.auth.audit import AuditEvent, AuditRecord, AuditWriter
from kensho.store.pool import create_pool


async def test_a_failed_write_is_counted_and_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = await create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/down", minsize=0, acquire_timeout=5
    )
    try:
        writer = AuditWriter(pool)
        record = AuditRecord(AuditEvent.FAILURE, "ana@example.com", "198.51.100.1", "ua", "r1")
        with caplog.at_level(logging.INFO, logger="kensho.audit"):
            await writer.write(record)
            await writer.write(record)
    finally:
        pool.close()
        await pool.wait_closed()
    assert writer.failed_writes == 2
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "auth failure"),
        (logging.ERROR, "auth audit write failed: OperationalError"),
    ] * 2
    assert caplog.records[0].__dict__["username"] == "ana@example.com"
