"""Sync leadership without processes: the schedule's decision, the lease keeper, the version
watcher, and two jobs sharing one database in one process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kensho.errors import ServiceUnavailable
from kensho.jobs.catalog_sync import LeaseLost
from kensho.jobs.catalog_version import VersionWatcher, catalog_version
from kensho.jobs.sync_leadership import SYNC_LEASE, LeaseKeeper, Situation, next_step
from kensho.jobs.sync_schedule import CatalogSyncJob, Held, Started
from kensho.observability.tracing import Tracing, job_span
from kensho.store.lease import Lease, LeaseStore
from kensho.store.pool import create_pool

from .test_catalog_sync import FakeSource, _sync


def _s(**kw: Any) -> Situation:
    base: dict[str, Any] = {
        "lease_held": False,
        "lease_remaining": 0.0,
        "state": "complete",
        "since_update": 10.0,
        "loaded": True,
    }
    return Situation(**(base | kw))


@pytest.mark.parametrize(
    ("situation", "at_start", "run", "why"),
    [
        (_s(lease_held=True, lease_remaining=5.0, state="running"), False, False, "held"),
        (_s(lease_held=True, state=None, loaded=False), True, False, "held"),
        (_s(state="running"), False, True, "interrupted"),  # its holder crashed: take over
        (_s(state=None, loaded=False), False, True, "never synced"),
        (_s(loaded=False), True, True, "start"),
        (_s(state="failed"), True, True, "start"),
        (_s(state="failed", since_update=10.0), False, False, "not due"),
        (_s(state="failed", since_update=100.0), False, True, "interval"),
        (_s(since_update=10.0), True, False, "not due"),  # loaded and fresh: no sync at start
        (_s(since_update=100.0), False, True, "interval"),
    ],
)
def test_next_step(situation: Situation, at_start: bool, run: bool, why: str) -> None:
    step = next_step(situation, interval=60.0, at_start=at_start, ttl=30.0)
    assert (step.run, step.why) == (run, why)


def test_next_step_waits_for_the_lease_then_for_the_interval() -> None:
    held = next_step(_s(lease_held=True, lease_remaining=5.0), interval=60, at_start=False, ttl=30)
    assert held.wait is not None and 5.0 <= held.wait <= 5.0 + 3.0  # expiry + jitter < ttl/10
    long = next_step(
        _s(lease_held=True, lease_remaining=500.0), interval=60, at_start=False, ttl=30
    )
    assert long.wait is not None and long.wait <= 33.0  # never longer than a ttl (+ jitter)
    due = next_step(_s(since_update=10.0), interval=60, at_start=False, ttl=30)
    assert due.wait == pytest.approx(50.0)
    once = next_step(_s(), interval=0, at_start=False, ttl=30)
    assert once.wait is None and not once.run  # interval 0: start only


class _Renewals:
    """A `LeaseStore` stand-in whose `renew` answers from a script."""

    ttl = 0.03

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def renew(self, lease: Lease) -> Lease | None:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else lease
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


async def _lost_after(store: _Renewals) -> str:
    lease = Lease(SYNC_LEASE, "me", 1, datetime.now(UTC))
    lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    keeper = LeaseKeeper(store, lease, lost.set_result)  # type: ignore[arg-type]
    keeper.start()
    try:
        return await asyncio.wait_for(lost, 10)
    finally:
        await keeper.stop()


async def test_the_keeper_renews_and_says_when_the_lease_was_taken_over() -> None:
    lease = Lease(SYNC_LEASE, "me", 1, datetime.now(UTC))
    store = _Renewals(lease, lease, None)
    assert "taken over" in await _lost_after(store)
    assert store.calls == 3


async def test_the_keeper_gives_up_when_it_cannot_renew_before_expiry() -> None:
    store = _Renewals(*[OSError("database down")] * 100)
    assert "not renewed in time" in await _lost_after(store)
    assert store.calls >= 1


async def test_the_watcher_refreshes_once_per_version_and_skips_its_own(clean_pool: Any) -> None:
    refreshed: list[bool] = []

    async def refresh(changed: bool) -> None:
        refreshed.append(changed)

    watcher = VersionWatcher(clean_pool, refresh, poll=0, me="me")
    assert await watcher.check() is False and refreshed == []

    async def attempt(holder: str, written: int, status: str = "complete") -> int:
        rows = await clean_pool_query(
            clean_pool,
            "INSERT INTO catalog_sync_runs (run_id, holder, lease_token, status, rows_written) "
            "VALUES ('r', %s, 1, %s, %s) RETURNING seq",
            (holder, status, written),
        )
        return int(rows[0][0])

    await attempt("other", 0, "running")  # not complete: no version
    assert await watcher.check() is False
    v1 = await attempt("other", 5)
    assert await watcher.check("notice") is True and refreshed == [True]
    assert watcher.known == v1 and watcher.refreshes["notice"] == 1
    assert await watcher.check() is False  # the same version again: nothing
    v2 = await attempt("me", 3)  # our own run: our job refreshed already
    assert await watcher.check() is False and watcher.known == v2 and refreshed == [True]
    await attempt("other", 0)  # nothing changed: refresh (status, warm cache) but no rebuild
    assert await watcher.check() is True and refreshed == [True, False]
    assert (await catalog_version(clean_pool))[0] == watcher.known


async def clean_pool_query(pool: Any, query: str, params: tuple[Any, ...]) -> list[Any]:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(query, params)
        return list(await cur.fetchall())


async def test_two_jobs_on_one_database_run_one_sync(clean_pool: Any, source: FakeSource) -> None:
    """The fleet tests' claim in one process: the second job finds the lease held."""
    first_runs: list[Any] = []

    async def after_run(result: Any) -> None:
        first_runs.append(result)

    jobs = [
        CatalogSyncJob(
            _sync(clean_pool, source),
            interval=3600,
            after_run=after_run,
            leases=LeaseStore(clean_pool, SYNC_LEASE, name, 30),
        )
        for name in ("a", "b")
    ]
    outcomes = await asyncio.gather(*(job.run_now() for job in jobs))
    started = [o for o in outcomes if isinstance(o, Started)]
    held = [o for o in outcomes if isinstance(o, Held)]
    assert len(started) == 1 and len(held) == 1
    winner = jobs[0] if isinstance(outcomes[0], Started) else jobs[1]
    assert held[0].holder == winner.holder and held[0].expires_at is not None
    assert winner._current is not None
    result = await asyncio.wait_for(winner._current, 30)
    assert result is not None and result.complete and result.run_id == started[0].run_id
    report = await winner.report()
    assert report["running"] is False and report["holder"] is None
    assert report["last_run"]["id"] == result.run_id and report["last_run"]["holder"] in "ab"
    for job in jobs:
        await job.stop(5)


async def test_a_replaced_holder_commits_nothing_more(clean_pool: Any, source: FakeSource) -> None:
    """The fence: a holder paused past its lease (GC, partition) and replaced stops at its
    next write, leaves the new holder's checkpoint alone and records its attempt as lost."""
    store = LeaseStore(clean_pool, SYNC_LEASE, "old", 30)
    lease = await store.try_acquire()
    assert lease is not None
    sync = _sync(clean_pool, source)
    source.pause_at = 14  # the third browse page (pages of 7): two pages are committed
    run = asyncio.create_task(sync.run(lease=lease))
    await asyncio.wait_for(source.paused.wait(), 30)
    # meanwhile the lease lapsed and another replica took it (token + 1)
    await clean_pool_query(
        clean_pool,
        "UPDATE leases SET holder = 'new', token = token + 1, expires_at = now() + interval '1m' "
        "WHERE name = %s RETURNING token",
        (SYNC_LEASE,),
    )
    checkpoint = await clean_pool_query(clean_pool, "SELECT cursor FROM catalog_sync_state", ())
    source.resume.set()
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(run, 30)
    assert await clean_pool_query(clean_pool, "SELECT cursor FROM catalog_sync_state", ()) == (
        checkpoint
    )
    rows = await clean_pool_query(
        clean_pool,
        "SELECT r.status, s.status FROM catalog_sync_runs r, catalog_sync_state s",
        (),
    )
    assert rows == [("lost", "running")]  # not 'failed': the new holder's run goes on
    assert sync.status.last_result == "lost"


def _leased(pool: Any, source: FakeSource, name: str, ttl: float, **kw: Any) -> CatalogSyncJob:
    return CatalogSyncJob(_sync(pool, source), leases=LeaseStore(pool, SYNC_LEASE, name, ttl), **kw)


async def test_a_waiting_replica_takes_over_an_interrupted_run_when_the_lease_lapses(
    clean_pool: Any, source: FakeSource
) -> None:
    """A holder crashed mid-run (its lease still current): the job waits for the expiry,
    then resumes that run, under its own lease, from its checkpoint."""
    crashed = await LeaseStore(clean_pool, SYNC_LEASE, "crashed", 1).try_acquire()
    assert crashed is not None
    await clean_pool_query(
        clean_pool,
        "INSERT INTO catalog_sync_state (job, run_id, status, phase, cursor) "
        "VALUES ('catalog', 'crashed-run', 'running', 'browse', '{\"start\": 7}') RETURNING 1",
        (),
    )
    job = _leased(clean_pool, source, "b", 30, interval=3600)
    job.start()
    await asyncio.wait_for(job.sync.run_finished.wait(), 30)
    rows = await clean_pool_query(
        clean_pool,
        "SELECT run_id, holder, status, resumed_from, lease_token FROM catalog_sync_runs",
        (),
    )
    assert rows == [("crashed-run", "b", "complete", 7, crashed.token + 1)]
    assert source.browse_calls[0] == 7  # resumed at the checkpoint, not from the start
    report = await job.report()
    assert report["replica"] == "b" and report["last_run"]["id"] == "crashed-run"
    await job.stop(5)


async def test_a_holder_whose_lease_is_taken_stops_its_run(
    clean_pool: Any, source: FakeSource
) -> None:
    """The keeper notices the takeover (renew says no) and stops the run at once."""
    job = _leased(clean_pool, source, "a", 1.5, interval=0)
    source.pause_seasons_of = source.series[0]["id"]  # no page can be written meanwhile
    outcome = await job.run_now()
    assert isinstance(outcome, Started)
    await asyncio.wait_for(source.paused.wait(), 30)
    await clean_pool_query(
        clean_pool,
        "UPDATE leases SET holder = 'thief', token = token + 1, "
        "expires_at = now() + interval '1m' WHERE name = %s RETURNING 1",
        (SYNC_LEASE,),
    )
    assert job._current is not None
    assert await asyncio.wait_for(job._current, 30) is None  # stopped, not failed
    source.resume.set()
    assert job.status.last_result == "cancelled"
    state = await LeaseStore(clean_pool, SYNC_LEASE, "x", 1).state()
    assert state.holder == "thief"  # the stopped holder released nothing of the thief's
    await job.stop(5)


async def test_operator_calls_answer_503_when_the_database_is_unreachable(
    clean_pool: Any, source: FakeSource, database_url: str
) -> None:
    pool = await create_pool(database_url, minsize=0, maxsize=1)
    pool.close()
    await pool.wait_closed()
    job = _leased(pool, source, "a", 30, interval=0)
    with pytest.raises(ServiceUnavailable):
        await job.run_now()
    with pytest.raises(ServiceUnavailable):
        await job.report()
    unleased = CatalogSyncJob(_sync(clean_pool, source), interval=0)
    report = await unleased.report()
    assert report["holder"] is None and report["replica"] is None and report["last_run"] is None


async def test_the_schedule_survives_an_unreadable_database(
    source: FakeSource, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL down: the schedule logs, waits and reads again; it never dies or spins."""
    pool = await create_pool(database_url, minsize=0, maxsize=1)
    pool.close()
    await pool.wait_closed()
    job = _leased(pool, source, "a", 30, interval=3600)
    job.start()
    for _ in range(200):
        if "could not read its state" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "could not read its state" in caplog.text
    assert job._task is not None and not job._task.done()
    assert await asyncio.wait_for(job.stop(), 5)


async def test_a_job_whose_writes_are_fenced_off_ends_its_run_quietly(
    clean_pool: Any, source: FakeSource
) -> None:
    """Taken over between two pages (before its keeper noticed): the fence ends the run."""
    job = _leased(clean_pool, source, "a", 30, interval=0)
    source.pause_at = 14  # two pages committed, the third browse waits
    assert isinstance(await job.run_now(), Started)
    await asyncio.wait_for(source.paused.wait(), 30)
    await clean_pool_query(
        clean_pool,
        "UPDATE leases SET holder = 'thief', token = token + 1 WHERE name = %s RETURNING 1",
        (SYNC_LEASE,),
    )
    source.resume.set()
    assert job._current is not None
    assert await asyncio.wait_for(job._current, 30) is None
    assert job.status.last_result == "lost"
    await job.stop(5)


async def test_a_run_no_longer_due_under_the_lease_lets_it_go(
    clean_pool: Any, source: FakeSource
) -> None:
    """Another replica finished a run between our decision and our lease: we let go."""
    first = _leased(clean_pool, source, "a", 30, interval=3600)
    assert isinstance(await first.run_now(), Started)
    assert first._current is not None
    await asyncio.wait_for(first._current, 30)
    second = _leased(clean_pool, source, "b", 30, interval=3600)
    assert await second._try_start(forced=False) == Held(None, None)
    state = await LeaseStore(clean_pool, SYNC_LEASE, "x", 1).state()
    assert not state.held  # released at once
    assert len(await clean_pool_query(clean_pool, "SELECT 1 FROM catalog_sync_runs", ())) == 1


async def test_a_failure_after_taking_the_lease_gives_it_back(
    clean_pool: Any, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    job = _leased(clean_pool, source, "a", 30, interval=0)

    async def broken_plan() -> tuple[str, int]:
        raise RuntimeError("a bug, not the database")

    job.sync.plan = broken_plan  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug"):  # not a 503: only database errors are
        await job.run_now()
    assert not (await LeaseStore(clean_pool, SYNC_LEASE, "x", 1).state()).held

    async def unreachable(lease: Lease) -> bool:
        raise OSError("database gone")

    job._leases.release = unreachable  # type: ignore[method-assign, union-attr]
    with pytest.raises(RuntimeError, match="a bug"):
        await job.run_now()
    assert "could not release the sync lease" in caplog.text  # it lapses by itself


async def test_an_operators_run_is_its_own_trace_linked_to_the_request(
    clean_pool: Any, source: FakeSource
) -> None:
    """`run_now` is called inside the admin request; the run goes on after the answer, as a
    root trace linked to the request, and the readers' refresh jobs link to the run."""
    exporter = InMemorySpanExporter()
    tracing = Tracing("sync-test", exporter=exporter)
    tracing.instrument()
    try:

        async def after_run(result: Any) -> None:
            with job_span("search rebuild", run_id=result.run_id):
                pass

        job = _leased(clean_pool, source, "a", 30, interval=3600, after_run=after_run)
        with tracing.tracer.start_as_current_span("POST /admin/catalog/sync") as request:
            outcome = await job.run_now()
        assert isinstance(outcome, Started) and job._current is not None
        await asyncio.wait_for(job._current, 30)
        await job.stop(5)
    finally:
        tracing.shutdown()
    spans = exporter.get_finished_spans()
    asked = request.get_span_context()
    (run,) = [s for s in spans if s.name == "catalog_sync run"]
    assert run.parent is None and run.context.trace_id != asked.trace_id
    assert [link.context.span_id for link in run.links] == [asked.span_id]
    assert run.attributes is not None and run.attributes["kensho.job.run_id"] == outcome.run_id
    (rebuild,) = [s for s in spans if s.name == "search rebuild"]
    assert rebuild.parent is None
    assert [link.context.span_id for link in rebuild.links] == [run.context.span_id]
    pages = [s for s in spans if s.name == "catalog_sync page"]
    assert pages and {link.context.span_id for p in pages for link in p.links} == {
        run.context.span_id
    }
    assert [s.name for s in spans if s.context.trace_id == asked.trace_id] == [request.name]
