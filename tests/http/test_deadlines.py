"""`Deadlines` and the `deadline` marker, directly: validation, opt-out, a bucket that empties
before its slot fires, and a shutdown cut asked for twice."""

from __future__ import annotations

import asyncio
import math

import pytest

from kensho.errors import ServiceUnavailable
from kensho.http.middlewares.timeout import Deadlines, deadline, deadline_of


@pytest.mark.parametrize("seconds", [0, -1, math.nan, -math.inf])
def test_a_deadline_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="deadline must be positive"):
        deadline(seconds)


def test_a_handlers_own_deadline_wins_and_none_opts_out() -> None:
    async def plain() -> None: ...

    @deadline(2.5)
    async def short() -> None: ...

    @deadline(None)
    async def stream() -> None: ...

    assert deadline_of(plain, 30.0) == 30.0
    assert deadline_of(short, 30.0) == 2.5
    assert deadline_of(stream, 30.0) is None


async def test_a_bucket_emptied_before_its_slot_fires_cancels_nothing() -> None:
    deadlines = Deadlines(resolution=3600)  # the slot's timer will not fire during the test
    task = asyncio.create_task(asyncio.Event().wait())
    try:
        bucket = deadlines.arm(task, 1.0)
        (slot,) = deadlines._buckets
        deadlines.disarm(task, bucket)  # answered in time
        deadlines._expire(slot)
        deadlines._expire(slot)  # fired twice, or after the bucket went: nothing to do
        assert not task.cancelled() and not deadlines._expired and len(deadlines) == 0
    finally:
        task.cancel()


async def test_a_second_cut_does_not_cancel_a_request_again() -> None:
    deadlines = Deadlines(resolution=3600)
    entered = asyncio.Event()

    async def handler(_request: object) -> None:
        entered.set()
        await asyncio.Event().wait()

    call = asyncio.create_task(deadlines.call(60.0, None, handler))  # type: ignore[arg-type]
    await entered.wait()
    assert deadlines.cut_all() == 1
    assert deadlines.cut_all() == 0  # already cut: one cancel, one 503
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        await call
    assert len(deadlines) == 0
