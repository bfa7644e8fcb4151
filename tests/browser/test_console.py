"""The operator console in a real browser: the token, the live tree, restarts, actions."""

from __future__ import annotations

import re

import requests
from openapi.live_server import LiveServer
from playwright.sync_api import Locator, Page, expect

from browser.browserkit import ADMIN_TOKEN, shot


def _connect(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/admin/")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()


def _row(page: Page, actor: str) -> Locator:
    return page.locator(f'table.tree tr[data-actor="{actor}"]')


def _restarts(page: Page, actor: str) -> int:
    return int(_row(page, actor).locator('td[data-col="restarts"]').inner_text().replace(",", ""))


def test_a_wrong_token_is_refused_and_forgotten(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/admin/")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("alert")).to_have_text("The server refused this token.")
    assert page.evaluate("sessionStorage.getItem('kensho.adminToken')") is None


def test_the_tree_is_live_and_shows_a_restart_within_two_seconds(
    server: LiveServer, page: Page
) -> None:
    _connect(page, server)
    for actor in ("session_pool", "breaker", "cache", "search"):
        expect(_row(page, actor)).to_be_visible()
    expect(_row(page, "breaker").locator("td").first).to_have_text(re.compile("running"))
    before = _restarts(page, "breaker")

    # the token stays for the tab: a reload reconnects without asking again
    page.reload()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()

    page.get_by_role("button", name="Restart breaker").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Restart the breaker actor?")
    with page.expect_response(re.compile(r"/admin/actors/breaker/restart$")) as restart:
        dialog.get_by_role("button", name="Restart").click()
    assert restart.value.status == 202
    # the feed shows it: waited for, within 2 s of the POST's answer
    expect(_row(page, "breaker").locator('td[data-col="restarts"]')).to_have_text(
        str(before + 1), timeout=2000
    )
    expect(page.get_by_role("log", name="Actions")).to_contain_text("Restarted breaker.")
    shot(page, "console-restart-desktop")

    # an outside restart (another operator, the API) shows just the same
    resp = requests.post(
        server.url + "/admin/actors/cache/restart",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert resp.status_code == 202
    expect(_row(page, "cache").locator('td[data-col="restarts"]')).to_have_text(
        str(_restart_count(resp.json())), timeout=2000
    )


def _restart_count(body: dict[str, object]) -> int:
    actor = body["actor"]
    assert isinstance(actor, dict)
    return int(actor["restarts"])


def test_breaker_actions_ask_first_and_take_effect(server: LiveServer, page: Page) -> None:
    _connect(page, server)
    breaker = page.get_by_role("region", name="Upstream breaker")
    expect(breaker).to_contain_text("closed")

    breaker.get_by_role("button", name="Force open").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(breaker).to_contain_text("mode auto")  # cancelled: nothing changed

    breaker.get_by_role("button", name="Force open").click()
    page.get_by_role("dialog").get_by_role("button", name="Force open").click()
    expect(breaker).to_contain_text("forced open")
    expect(breaker).to_contain_text("mode forced_open")

    breaker.get_by_role("button", name="Reset").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    expect(breaker).to_contain_text("mode auto")
    expect(breaker).to_contain_text("closed → forced_open ×1")
    expect(breaker).to_contain_text("forced_open → closed ×1")


def test_cache_invalidation_and_sync_from_the_console(server: LiveServer, page: Page) -> None:
    _connect(page, server)
    cache = page.get_by_role("region", name="Cache")
    cache.get_by_label("Cache key pattern").fill("anime:*")
    cache.get_by_role("button", name="Invalidate").click()
    page.get_by_role("dialog").get_by_role("button", name="Invalidate").click()
    expect(page.get_by_role("log", name="Actions")).to_contain_text(
        re.compile(r"Invalidated \d+ key\(s\) matching “anime:\*”")
    )

    sync = page.get_by_role("region", name="Catalog sync")
    expect(sync).to_contain_text("Loaded")
    last_run = sync.locator("dd").first
    before = last_run.inner_text()
    with page.expect_response(re.compile(r"/admin/catalog/sync$")) as started:
        sync.get_by_role("button", name="Sync now").click()
        page.get_by_role("dialog").get_by_role("button", name="Sync now").click()
    assert started.value.status == 202
    expect(page.get_by_role("log", name="Actions")).to_contain_text("Catalog sync started.")
    expect(last_run).not_to_have_text(before)  # a new run ended ...
    expect(sync.locator("dd").nth(1)).to_have_text("complete")  # ... and completed
