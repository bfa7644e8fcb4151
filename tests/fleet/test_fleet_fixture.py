"""The fleet fixture itself: replicas share one database and one simulator, and can be killed
and restarted."""

from __future__ import annotations

import signal

from .cluster import MakeFleet


async def test_two_replicas_share_the_database_and_the_simulator(make_fleet: MakeFleet) -> None:
    async with make_fleet(replicas=2) as fleet:
        a, b = fleet.replicas
        assert a.port != b.port and a.pid != b.pid
        await fleet.wait_synced()  # ready means the first page is in, not the whole catalog
        (series,) = (await fleet.query("SELECT count(*) FROM series WHERE removed_at IS NULL"))[0]
        assert series == fleet.sim.series
        sid = (await fleet.query("SELECT id FROM series ORDER BY members DESC LIMIT 1"))[0][0]
        for replica in (a, b):
            status, body = await replica.request("GET", f"/api/anime/{sid}")
            assert status == 200, body
        assert await fleet.sim.calls("/content/v2/discover/browse") > 0

        a.kill()
        assert await a.wait() == -signal.SIGKILL
        status, _ = await b.request("GET", "/health/ready")
        assert status == 200
        await a.restart()
        status, _ = await a.request("GET", f"/api/anime/{sid}")
        assert status == 200
        assert await a.terminate() == 0
