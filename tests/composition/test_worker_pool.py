"""The parent's process supervision (`WorkerPool`) with tiny stand-in worker processes.

Real processes, no Kenshō app: each stand-in reports `INDEX PID` on the ready pipe like a
`kensho serve` worker, then behaves as the test needs (drain on SIGTERM, crash, ignore SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

import pytest

from kensho.composition.worker_pool import WorkerPool
from kensho.http.server import EXIT_ABANDONED, EXIT_OK, EXIT_START_FAILED

pytestmark = pytest.mark.timeout(60)

_STAND_IN = """
import os, signal, sys, time
mode, index, fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mode == "crash" or (mode == "crash-1" and index == 1):
    sys.exit(1)
drained = 3 if mode == "drain-fails" else 0
stubborn = mode == "stubborn" or (mode == "stubborn-1" and index == 1)
on_term = signal.SIG_IGN if stubborn else lambda *_: sys.exit(drained)
signal.signal(signal.SIGTERM, on_term)
if mode == "chatty":
    os.write(fd, b"not a ready line\\n")
os.write(fd, f"{index} {os.getpid()}\\n".encode())
if mode == "flaky":
    sys.exit(7)
while True:
    time.sleep(1)
"""


def _command(mode: str) -> Callable[[int, int], Sequence[str]]:
    return lambda index, fd: [sys.executable, "-c", _STAND_IN, mode, str(index), str(fd)]


async def _until(predicate: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_killed_worker_is_restarted_and_sigterm_drains_all() -> None:
    pool = WorkerPool(2, _command("ok"), min_backoff=0.01, max_backoff=0.05)
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    first = pool.pids
    assert None not in first and len(set(first)) == 2
    os.kill(first[0], signal.SIGKILL)
    await _until(lambda: pool.pids[0] not in (None, first[0]))
    assert pool.pids[1] == first[1]  # the other worker was left alone
    survivors = pool.pids
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_OK
    assert not any(_alive(pid) for pid in survivors if pid is not None)


async def test_a_worker_dying_before_the_fleet_is_up_stops_the_rest_exit_1() -> None:
    pool = WorkerPool(2, _command("crash-1"), min_backoff=0.01)
    stop = asyncio.Event()
    assert await asyncio.wait_for(pool.run(stop), 20) == EXIT_START_FAILED
    assert pool.pids == [None, None]


async def test_a_worker_that_ignores_sigterm_is_killed_at_the_deadline_exit_3() -> None:
    pool = WorkerPool(1, _command("stubborn"), drain_timeout=0.5)
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    (pid,) = pool.pids
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_ABANDONED
    assert pid is not None and not _alive(pid)


async def test_only_the_worker_that_did_not_drain_is_killed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = WorkerPool(2, _command("stubborn-1"), drain_timeout=0.5)
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    pids = pool.pids
    stop.set()
    with caplog.at_level(logging.INFO, logger="kensho.workers"):
        assert await asyncio.wait_for(run, 20) == EXIT_ABANDONED
    (abandoned,) = [r for r in caplog.records if getattr(r, "event", None) == "abandoned"]
    assert abandoned.items == ["worker:1"]  # type: ignore[attr-defined]
    (failed,) = [r for r in caplog.records if getattr(r, "event", None) == "workers_failed"]
    assert "{1: -9}" in failed.getMessage()  # worker 0 drained and exited 0
    assert not any(_alive(pid) for pid in pids if pid is not None)


async def test_restarts_back_off_exponentially(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kensho.workers")
    pool = WorkerPool(1, _command("flaky"), min_backoff=0.01, max_backoff=0.08, random_factor=0)
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))

    def delays() -> list[float]:
        return [r.restart_in for r in caplog.records if getattr(r, "event", "") == "worker_exited"]

    await _until(lambda: len(delays()) >= 5)
    stop.set()
    await asyncio.wait_for(run, 20)
    assert delays()[:5] == [0.01, 0.02, 0.04, 0.08, 0.08]


async def test_backoff_resets_once_a_worker_stayed_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kensho.workers")
    pool = WorkerPool(
        1, _command("flaky"), min_backoff=0.01, max_backoff=1, random_factor=0, stable_after=0
    )
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))

    def delays() -> list[float]:
        return [r.restart_in for r in caplog.records if getattr(r, "event", "") == "worker_exited"]

    await _until(lambda: len(delays()) >= 3)
    stop.set()
    await asyncio.wait_for(run, 20)
    assert delays()[:3] == [0.01, 0.01, 0.01]


async def test_stopped_while_a_worker_backs_off_exit_0(caplog: pytest.LogCaptureFixture) -> None:
    """The crash was logged when it happened; the drain itself was clean."""
    caplog.set_level(logging.WARNING, logger="kensho.workers")
    pool = WorkerPool(2, _command("ok"), min_backoff=60, max_backoff=60)
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    victim = pool.pids[1]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    # Logged as exited; its restart waits a minute.
    await _until(lambda: any(getattr(r, "event", "") == "worker_exited" for r in caplog.records))
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_OK


async def test_sigterm_before_or_while_workers_start_stops_them_exit_0() -> None:
    pool = WorkerPool(2, _command("ok"))
    stop = asyncio.Event()
    stop.set()  # the signal came before any worker was spawned
    assert await asyncio.wait_for(pool.run(stop), 20) == EXIT_OK
    assert pool.pids == [None, None]

    pool = WorkerPool(2, _command("ok"))
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    for _ in range(3):  # the workers are being spawned, none listens yet
        await asyncio.sleep(0)
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_OK
    assert pool.pids == [None, None]


async def test_a_worker_failing_its_drain_makes_exit_3_and_junk_lines_are_ignored() -> None:
    pool = WorkerPool(1, _command("chatty"))
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_OK
    pool = WorkerPool(1, _command("drain-fails"))
    stop = asyncio.Event()
    run = asyncio.create_task(pool.run(stop))
    await asyncio.wait_for(pool.wait_up(), 20)
    stop.set()
    assert await asyncio.wait_for(run, 20) == EXIT_ABANDONED


def test_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count"):
        WorkerPool(0, _command("ok"))
