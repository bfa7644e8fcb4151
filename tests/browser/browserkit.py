"""Helpers for the browser tests: the Chromium launch, screenshots, sessions, axe-core."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi.live_server import ADMIN_TOKEN, DEMO, LiveServer
from playwright.sync_api import Browser, BrowserContext, Page, expect

__all__ = [
    "ADMIN_TOKEN",
    "ARTIFACTS",
    "AXE",
    "CHROMIUM",
    "DEMO",
    "DESKTOP",
    "FLAGS",
    "PHONE",
    "admin_get",
    "axe_violations",
    "logged_in",
    "new_context",
    "shot",
]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KENSHO_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("KENSHO_TEST_ARTIFACTS", ROOT / "test-artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000
_AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def new_context(browser: Browser, viewport: dict[str, int], **kw: Any) -> BrowserContext:
    context = browser.new_context(viewport=viewport, **kw)
    context.set_default_timeout(TIMEOUT_MS)
    if AXE.exists():
        context.add_init_script(path=str(AXE))  # as init script: the pages' CSP stays on
    return context


def shot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot under the artifacts directory."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def login_token(server: LiveServer) -> dict[str, Any]:
    """A session for the demo account, made through the API (tests that are not about login)."""
    resp = requests.post(
        server.url + "/api/auth/login",
        json={"username": DEMO[0], "password": DEMO[1]},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def logged_in(context: BrowserContext, server: LiveServer) -> None:
    """Put a demo session where the viewer keeps it, before any page script runs."""
    body = login_token(server)
    session = {
        "token": body["token"],
        "username": DEMO[0],
        "premium": True,
        "expiresAt": body["expires_at"],
    }
    value = json.dumps(json.dumps(session))  # a JS string literal holding the JSON
    context.add_init_script(f"localStorage.setItem('kensho.session', {value});")


def admin_get(server: LiveServer, path: str) -> Any:
    resp = requests.get(
        server.url + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def axe_violations(page: Page, *, impact: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core's violations of `impact` on the page as it is now (WCAG 2.x A and AA rules)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not at {AXE}: npm ci --prefix web (.ci/run does)")
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""",
        _AXE_TAGS,
    )
    return [v for v in result if v["impact"] in impact]


expect.set_options(timeout=10_000)  # assertions wait up to 10 s (a busy 2-core machine)
