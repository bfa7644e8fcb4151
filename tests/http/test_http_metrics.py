"""/metrics: request histogram by route template (never raw paths), connections, actors."""

from __future__ import annotations

import re

from httpkit import TOKEN, MakeClient
from prometheus_client.parser import text_string_to_metric_families

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _scrape(client: object) -> str:
    resp = await client.get("/metrics")  # type: ignore[attr-defined]
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text: str = await resp.text()
    return text


async def test_route_templates_never_raw_paths(make_client: MakeClient) -> None:
    client = await make_client(admin_token=TOKEN)
    await client.get("/admin/actors/cache", headers=AUTH)
    await client.get("/admin/actors/breaker", headers=AUTH)
    await client.get("/catalog/secret-raw-path-123")
    await client.request("PROPFIND", "/health/live")
    text = await _scrape(client)
    assert "secret-raw-path-123" not in text
    assert "/admin/actors/cache" not in text and "/admin/actors/breaker" not in text
    by_name = r'route="/admin/actors/\{name\}",status="200"'
    assert re.search(r'request_duration_seconds_count\{method="GET",' + by_name + r"\} 2\.0", text)
    assert re.search(
        r'request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1\.0', text
    )
    assert 'method="OTHER"' in text and "PROPFIND" not in text
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"request_duration_seconds", "active_connections", "requests_in_flight"} <= families


async def test_active_connections_counts_open_sockets(make_client: MakeClient) -> None:
    client = await make_client()
    text = await _scrape(client)
    (value,) = [
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == "active_connections"
        for s in f.samples
    ]
    assert value >= 1  # the scrape's own keep-alive connection


async def test_actor_series_from_the_supervisor_snapshot(make_client: MakeClient) -> None:
    client = await make_client()
    text = await _scrape(client)
    assert 'actor_mailbox_depth{actor="cache"} 2.0' in text
    assert 'actor_messages_processed_total{actor="cache"} 5.0' in text
    assert 'actor_messages_processed_total{actor="breaker"} 7.0' in text
    assert 'actor_messages_failed_total{actor="cache"} 1.0' in text
    assert 'actor_restarts_total{actor="cache"} 0.0' in text
