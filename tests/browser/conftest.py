"""Browser tests: Debian's Chromium driven by Playwright against the real app on a real port.

One browser and one server for the whole package (the machine has two shared cores): the real
app factory with its default resources (PostgreSQL, Redis, the actor tree, auth, search, the
catalog sync) and the in-process Crunchyroll simulator serving a small slice of the catalog
(`openapi.live_server`). Each test gets a fresh browser context (no shared storage).

Playwright never downloads a browser here: Chromium comes from Debian (`apt-get install -y
chromium`, which `.ci/run` does when it is missing); axe-core comes from `web/node_modules`
(`npm ci --prefix web`, also in `.ci/run`). Screenshots go to `$KENSHO_TEST_ARTIFACTS`
(default `test-artifacts/`, gitignored), and a failing test leaves one there too.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import requests
from openapi.live_server import LiveServer, live_server, small_catalog
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from browser.browserkit import CHROMIUM, DESKTOP, FLAGS, new_context, shot
from kensho.http import keys

_HERE = Path(__file__).parent
_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def server(
    postgres_server_dsn: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser-app")
    with live_server(postgres_server_dsn, redis_url, data_dir, small_catalog(40, 10)) as srv:
        yield srv


@pytest.fixture
def sim_url(server: LiveServer) -> Iterator[str]:
    """The simulator's base URL; its faults are cleared after the test."""
    url = server.app[keys.UPSTREAM_URL]
    yield url
    requests.delete(url + "/_sim/faults", timeout=10)


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh desktop-sized context; uncaught page errors fail the test."""
    ctx = new_context(browser, DESKTOP)
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield ctx
    if request.node.stash.get(_FAILED, False):
        for n, open_page in enumerate(ctx.pages):
            shot(open_page, f"failed-{request.node.name}-{n}")
    ctx.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
