"""Every main page at phone and desktop widths: no serious axe-core violation, a screenshot.

The screenshots land in `$KENSHO_TEST_ARTIFACTS/screenshots/` (CI keeps them); the README
embeds copies of the key ones from `docs/screenshots/`.
"""

from __future__ import annotations

import re

import pytest
from openapi.live_server import LiveServer
from playwright.sync_api import Browser, Page, expect

from browser.browserkit import (
    ADMIN_TOKEN,
    DESKTOP,
    PHONE,
    axe_violations,
    logged_in,
    new_context,
    shot,
)

AOT = "GR751KNZY"


_POSTERS_SHOWN = """(n) => {
    const imgs = [...document.querySelectorAll('img.poster')].slice(0, n);
    return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def _browse(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.get_by_role("list", name="Anime")).to_have_attribute("aria-busy", "false")
    page.wait_for_function(_POSTERS_SHOWN, arg=4)


def _search(page: Page, url: str) -> None:
    page.goto(url + "/search?q=shingeki")
    expect(
        page.get_by_role("list", name="Search results").get_by_role("link").first
    ).to_be_visible()
    expect(page.get_by_role("list", name="Search results")).to_have_attribute("aria-busy", "false")


def _anime(page: Page, url: str) -> None:
    page.goto(f"{url}/anime/{AOT}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Attack on Titan")
    expect(page.locator(".episodes")).to_have_attribute("aria-busy", "false")
    page.wait_for_function(_POSTERS_SHOWN, arg=1)


def _player(page: Page, url: str) -> None:
    _anime(page, url)
    page.get_by_role("button", name=re.compile(r"^Play episode 6\b")).click()
    player = page.get_by_role("region", name=re.compile("Now playing"))
    expect(player.get_by_label("Quality")).to_be_enabled()
    page.wait_for_function("() => document.querySelector('.player video').currentTime > 1")
    page.evaluate("document.querySelector('.player video').pause()")  # a still for the shot


def _login(page: Page, url: str) -> None:
    page.goto(url + "/login")
    expect(page.get_by_label("Email")).to_be_visible()


def _console(page: Page, url: str) -> None:
    page.goto(url + "/admin/")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.locator('table.tree tr[data-actor="breaker"]')).to_be_visible()
    expect(page.get_by_role("heading", name="Search analytics")).to_be_visible()


PAGES = {
    "browse": _browse,
    "search": _search,
    "anime": _anime,
    "player": _player,
    "login": _login,
    "console": _console,
}


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [("phone", "light"), ("desktop", "dark")],  # each colour scheme's contrast checked once
)
def test_main_pages_are_accessible_and_responsive(
    browser: Browser, server: LiveServer, viewport: str, scheme: str
) -> None:
    size = PHONE if viewport == "phone" else DESKTOP
    failures = {}
    for name, show in PAGES.items():
        context = new_context(browser, size, color_scheme=scheme)
        try:
            if name == "player":
                logged_in(context, server)
            page = context.new_page()
            show(page, server.url)
            # responsive: nothing wider than the viewport (wide tables scroll in their box)
            overflow = page.evaluate("document.documentElement.scrollWidth") - size["width"]
            assert overflow <= 0, f"{name} at {viewport} is {overflow}px wider than the screen"
            shot(page, f"{name}-{viewport}")
            found = axe_violations(page)
            if found:
                failures[name] = found
            if name == "player":
                page.get_by_role("button", name="Stop").click()
                expect(page.get_by_role("region", name=re.compile("Now playing"))).to_have_count(0)
        finally:
            context.close()
    assert failures == {}, failures


def test_the_accessibility_check_finds_a_planted_violation(
    browser: Browser, server: LiveServer
) -> None:
    """The check above is only as good as axe-core running at all: plant what it must find."""
    context = new_context(browser, DESKTOP)
    try:
        page = context.new_page()
        _login(page, server.url)
        assert axe_violations(page) == []
        page.evaluate(
            """() => {
                const field = document.createElement('input');  // no label
                const faint = document.createElement('p');  // about 1.5:1 on either scheme
                faint.textContent = 'faint text';
                faint.style.color = '#999';
                faint.style.background = '#bbb';
                document.querySelector('main').append(field, faint);
            }"""
        )
        found = {v["id"] for v in axe_violations(page)}
        assert {"label", "color-contrast"} <= found, found
    finally:
        context.close()
