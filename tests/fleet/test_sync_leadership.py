"""Catalog sync leadership across real replicas (issue 12): one sync per fleet, takeover after a
crash, one operator-started run at a time."""

from __future__ import annotations

import asyncio
import math
from typing import Any
from urllib.parse import quote

import pytest

from kensho.catalog import load_catalog

from .cluster import Fleet, MakeFleet, Replica, wait_until

BROWSE = "/content/v2/discover/browse"


async def _runs(fleet: Fleet) -> list[tuple[Any, ...]]:
    return await fleet.query(
        "SELECT run_id, holder, status, resumed_from, removed, lease_token "
        "FROM catalog_sync_runs ORDER BY seq"
    )


async def _holder_id(replica: Replica) -> str:
    status, body = await replica.admin("GET", "/admin/catalog/sync")
    assert status == 200, body
    return str(body["replica"])


@pytest.mark.timeout(300)
async def test_two_replicas_started_together_run_one_sync(make_fleet: MakeFleet) -> None:
    async with make_fleet(replicas=2) as fleet:  # started at once, on an empty database
        a, b = fleet.replicas
        await fleet.wait_synced()
        pages = math.ceil(fleet.sim.series / 100)
        # one walk of the listing, not one per replica (before: 2 × pages)
        assert await fleet.sim.calls(BROWSE) == pages, fleet.logs()
        runs = await _runs(fleet)
        assert [r[2] for r in runs] == ["complete"], runs
        assert runs[0][4] == 0  # nothing marked removed
        (removed,) = (
            await fleet.query("SELECT count(*) FROM series WHERE removed_at IS NOT NULL")
        )[0]
        assert removed == 0
        leader = runs[0][1]
        follower = b if await _holder_id(a) == leader else a
        assert await _holder_id(follower) != leader

        # The follower learnt of the run (a notice, or its poll) and rebuilt its search index
        # from the database. It started on an empty database, so its first index came from
        # the bundled catalog (every series): a series the simulator does not serve leaves
        # the follower's search only when it rebuilt from what the leader synced.
        (synced,) = (await fleet.query("SELECT title FROM series ORDER BY members DESC LIMIT 1"))[0]
        absent = load_catalog().entries[fleet.sim.series + 10].title

        async def titles(replica: Replica, query: str) -> set[str]:
            status, body = await replica.request("GET", f"/api/search?q={quote(query[:40])}")
            return {item.get("title") for item in body["items"]} if status == 200 else set()

        async def rebuilt() -> bool:
            return synced in await titles(follower, synced) and absent not in await titles(
                follower, absent
            )

        await wait_until(rebuilt, seconds=60, what="the follower's search to follow the sync")
        assert any(e.get("how") == "notice" for e in follower.log_events("catalog_version"))
        status, report = await follower.admin("GET", "/admin/catalog/sync")
        assert status == 200
        assert report["running"] is False and report["holder"] is None
        last = report["last_run"]
        assert last["id"] == runs[0][0] and last["status"] == "complete"
        assert last["holder"] == leader and last["pages"] == pages
        assert last["series"] == fleet.sim.series and last["removed"] == 0
        assert last["finished_at"] is not None and last["error"] is None

        # a replica started later does not sync again (the catalog is loaded and current)
        await fleet.sim.reset_stats()
        await follower.restart()
        assert await fleet.sim.calls(BROWSE) == 0


@pytest.mark.timeout(300)
async def test_a_crashed_holders_lease_expires_and_another_replica_resumes_its_run(
    make_fleet: MakeFleet,
) -> None:
    ttl = 2.0
    settings = {"KENSHO_CATALOG_SYNC_LEASE_TTL": str(ttl), "KENSHO_CATALOG_VERSION_POLL": "1"}
    async with make_fleet(replicas=2, start=False, settings=settings) as fleet:
        a, b = fleet.replicas
        # slow seasons and episodes down: a run lasts long enough to be killed in the middle
        await fleet.sim.add_fault(path_prefix="/content/v2/cms/", latency_ms=300)
        await a.start(ready=False)

        async def a_committed_a_page() -> bool:
            rows = await fleet.query("SELECT status, cursor FROM catalog_sync_state")
            return bool(rows) and rows[0][0] == "running" and rows[0][1].get("start", 0) > 0

        await wait_until(a_committed_a_page, seconds=60, what="a's first committed page")
        a.kill()  # SIGKILL: no release, no cleanup; the lease must lapse by itself
        await a.wait()
        (checkpoint,) = (await fleet.query("SELECT cursor FROM catalog_sync_state"))[0]
        await fleet.sim.clear_faults()
        await b.start(ready=False)

        async def b_finished() -> bool:
            return (await _runs(fleet))[-1][2] != "running"

        await wait_until(b_finished, seconds=90, what="b to take over and finish the run")
        await b.wait_ready()
        runs = await _runs(fleet)
        assert [r[2] for r in runs] == ["lost", "complete"], runs
        (run_a, holder_a, _, _, _, token_a), (run_b, holder_b, _, resumed, removed, token_b) = runs
        assert run_b == run_a  # resumed the interrupted run (under its own lease) ...
        assert resumed >= checkpoint["start"] > 0  # ... from its checkpoint, not from 0
        assert holder_b != holder_a and token_b > token_a
        assert removed == 0
        (count,) = (await fleet.query("SELECT count(*) FROM series WHERE removed_at IS NULL"))[0]
        assert count == fleet.sim.series
        status, report = await b.admin("GET", "/admin/catalog/sync")
        assert status == 200 and report["last_run"]["holder"] == holder_b
        assert report["last_run"]["resumed_from"] == resumed


@pytest.mark.timeout(300)
async def test_concurrent_sync_requests_on_two_replicas_one_202_one_409(
    make_fleet: MakeFleet,
) -> None:
    async with make_fleet(replicas=2) as fleet:
        a, b = fleet.replicas
        await fleet.wait_synced()
        await fleet.sim.reset_stats()
        # a run that lasts a moment, so both requests meet it
        await fleet.sim.add_fault(path_prefix="/content/v2/cms/series", latency_ms=100)
        (sa, ba), (sb, bb) = await asyncio.gather(
            a.admin("POST", "/admin/catalog/sync"), b.admin("POST", "/admin/catalog/sync")
        )
        assert sorted([sa, sb]) == [202, 409], (sa, ba, sb, bb)
        won, lost = (ba, bb) if sa == 202 else (bb, ba)
        winner, loser = (a, b) if sa == 202 else (b, a)
        assert lost["status"] == 409 and lost["type"].endswith("conflict")
        assert lost["holder"] == won["holder"] == await _holder_id(winner)
        assert won["run_id"] and lost["lease_expires_at"]

        status, report = await loser.admin("GET", "/admin/catalog/sync")
        assert status == 200 and report["holder"] == won["holder"]
        assert report["running"] is True and report["lease_expires_at"]
        await fleet.sim.clear_faults()

        async def finished() -> Any:
            _, report = await loser.admin("GET", "/admin/catalog/sync")
            last = report["last_run"]
            return not report["running"] and last["id"] == won["run_id"] and last

        last = await wait_until(finished, seconds=60, what="the run to finish")
        assert last["status"] == "complete" and last["removed"] == 0
        assert await fleet.sim.calls(BROWSE) == math.ceil(fleet.sim.series / 100)

        for replica, outcome in ((winner, "ok"), (loser, "conflict")):
            audits = [
                e
                for e in replica.log_events("audit")
                if e.get("action") == "catalog-sync" and e.get("outcome") == outcome
            ]
            assert len(audits) == 1, replica.read_log()[-3000:]


@pytest.mark.timeout(300)
async def test_a_failing_sync_never_opens_the_users_breaker(make_fleet: MakeFleet) -> None:
    """The sync has its own upstream budget: its failures count on its own breaker."""
    settings = {"KENSHO_BREAKER_WINDOW_SIZE": "2", "KENSHO_BREAKER_MINIMUM_CALLS": "2"}
    async with make_fleet(replicas=1, settings=settings) as fleet:
        (a,) = fleet.replicas
        await fleet.wait_synced()
        await fleet.sim.reset_stats()
        await fleet.sim.add_fault(path_prefix=BROWSE, status=503)
        for attempt in (1, 2):  # two failed calls: enough to open a breaker with a window of 2

            async def started() -> Any:  # 409 until the previous run let go of the lease
                status, body = await a.admin("POST", "/admin/catalog/sync")
                assert status in (202, 409), body
                return status == 202 and body

            body = await wait_until(started, seconds=30, what="a 202")

            async def failed(n: int = attempt) -> Any:
                rows = await fleet.query(
                    "SELECT count(*) FROM catalog_sync_runs WHERE status = 'failed'"
                )
                return rows[0][0] == n

            await wait_until(failed, seconds=60, what=f"failed sync {attempt}")
        _, report = await a.admin("GET", "/admin/catalog/sync")
        assert report["last_run"]["status"] == "failed" and report["last_run"]["error"]
        assert report["last_run"]["id"] == body["run_id"]
        errors = await fleet.query(
            "SELECT error FROM catalog_sync_runs WHERE status = 'failed' ORDER BY seq"
        )
        assert "circuit" in errors[-1][0], errors  # the sync's own breaker opened ...
        status, breaker = await a.admin("GET", "/admin/actors/breaker")
        assert status == 200, breaker
        assert breaker["summary"]["state"] == "closed", breaker  # ... the users' did not
