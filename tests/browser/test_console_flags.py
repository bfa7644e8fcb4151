"""The console's feature-flags panel in a real browser: read, roll out, reset."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from openapi.live_server import LiveServer
from playwright.sync_api import Page, expect

from browser.browserkit import ADMIN_TOKEN, shot

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FLAG = "/admin/flags/search-ranking"


@pytest.fixture
def reset_flag(server: LiveServer) -> Iterator[None]:
    """The server is shared by the package: leave search ranking as it found it."""
    yield
    requests.delete(server.url + FLAG, headers=AUTH, timeout=10)


def test_a_rollout_set_in_the_console_reaches_the_server(
    server: LiveServer, page: Page, reset_flag: None
) -> None:
    page.goto(server.url + "/admin/")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Connect").click()
    panel = page.get_by_role("region", name="Feature flags")
    card = panel.get_by_role("article", name="search-ranking")
    expect(card).to_contain_text("built-in default")
    expect(card.locator('[data-field="shares"]')).to_have_text(
        "relevance 100 % · popular-first 0 %"
    )
    expect(card.get_by_role("button", name="Reset to configured")).to_be_disabled()

    # more than 100 % is caught before anything is sent
    card.get_by_label("Roll out popular-first to (%)").fill("150")
    expect(card.get_by_role("alert")).to_have_text("The rollout adds up to more than 100 %.")
    expect(card.get_by_role("button", name="Apply to the fleet")).to_be_disabled()

    card.get_by_label("Roll out popular-first to (%)").fill("25")
    card.get_by_role("button", name="Apply to the fleet").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Set search-ranking for the whole fleet")
    expect(dialog).to_contain_text("popular-first to 25 %")
    with page.expect_response(re.compile(r"/admin/flags/search-ranking$")) as put:
        dialog.get_by_role("button", name="Apply").click()
    assert put.value.status == 200 and put.value.request.method == "PUT"
    expect(card.locator('[data-field="source"]')).to_contain_text("fleet override (Redis)")
    expect(card.locator('[data-field="shares"]')).to_have_text(
        "relevance 75 % · popular-first 25 %"
    )
    expect(page.get_by_role("log", name="Actions")).to_contain_text(
        "search-ranking is now on, default relevance, popular-first to 25 % on every replica."
    )
    stored = requests.get(server.url + "/admin/flags", headers=AUTH, timeout=10).json()
    assert stored["flags"][0]["setting"]["rollout"] == {"popular-first": 25.0}
    shot(page, "console-flags-desktop")

    card.get_by_role("button", name="Reset to configured").click()
    with page.expect_response(re.compile(r"/admin/flags/search-ranking$")) as delete:
        page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    assert delete.value.status == 200 and delete.value.request.method == "DELETE"
    expect(card.locator('[data-field="source"]')).to_contain_text("built-in default")


def test_a_change_made_elsewhere_shows_up(server: LiveServer, page: Page, reset_flag: None) -> None:
    page.goto(server.url + "/admin/")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Connect").click()
    card = page.get_by_role("region", name="Feature flags").get_by_role(
        "article", name="search-ranking"
    )
    expect(card).to_contain_text("built-in default")
    resp = requests.put(
        server.url + FLAG, json={"default_variant": "popular-first"}, headers=AUTH, timeout=10
    )
    assert resp.status_code == 200
    # the live feed carries it: another operator's change shows within 2 s, no reload
    expect(card.locator('[data-field="shares"]')).to_have_text(
        "relevance 0 % · popular-first 100 %", timeout=2_000
    )
    expect(card.get_by_label("Default variant")).to_have_value("popular-first")
