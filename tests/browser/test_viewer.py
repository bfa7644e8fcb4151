"""The viewer app in a real browser: browse, search, the anime page, login, play, outage."""

from __future__ import annotations

import re

import pytest
import requests
from openapi.live_server import LiveServer
from playwright.sync_api import BrowserContext, Page, expect

from browser.browserkit import DEMO, admin_get, logged_in, shot

AOT = "GR751KNZY"  # Attack on Titan (Shingeki no Kyojin), in the test catalog slice


def _cards(page: Page) -> int:
    return page.get_by_role("list", name="Anime").get_by_role("link").count()


def test_browse_filters_and_scrolls_on_the_api_cursors(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/")
    anime = page.get_by_role("list", name="Anime")
    expect(anime.get_by_role("link").first).to_be_visible()
    expect(anime).to_have_attribute("aria-busy", "false")
    first_page = _cards(page)
    assert first_page == 24  # one page of the cursor API
    # scrolling to the end loads the next page by itself (the button is there for keyboards)
    page.get_by_role("button", name="Load more").scroll_into_view_if_needed()
    expect(anime.get_by_role("link")).not_to_have_count(first_page)
    assert _cards(page) > first_page
    # posters come from the catalog's image URLs (a titled placeholder when one is missing)
    page.wait_for_function(
        """() => {
            const img = document.querySelector('.grid img.poster');
            return img && img.complete && img.naturalWidth > 0;
        }"""
    )

    page.get_by_label("Type").select_option("movie")
    expect(page).to_have_url(re.compile(r"[?&]type=movie"))
    expect(anime).to_have_attribute("aria-busy", "false")
    page.get_by_label("Sort by").select_option("title")
    expect(page).to_have_url(re.compile(r"sort=title"))
    expect(anime).to_have_attribute("aria-busy", "false")
    # aria-busy may still read "false" from before the sorted page's fetch began: wait until
    # the list shows cards in title order (a timeout if the sort never applies)
    page.wait_for_function(
        """() => {
            const t = [...document.querySelectorAll('[aria-label="Anime"] .card-title')]
                .map((e) => e.textContent.toLocaleLowerCase());
            return t.length > 0 && t.every((x, i) => i === 0 || t[i - 1] <= x);
        }"""
    )
    titles = anime.locator(".card-title").all_inner_texts()
    assert titles and titles == sorted(titles, key=str.casefold)

    page.get_by_label("Type").select_option("")
    page.get_by_label("Genre").select_option("Action")
    expect(page).to_have_url(re.compile(r"genre=Action"))
    expect(anime).to_have_attribute("aria-busy", "false")
    first = anime.get_by_role("link").first
    first.click()
    expect(page.get_by_role("list", name="Genres")).to_contain_text("Action")


@pytest.mark.parametrize(
    ("typed", "language"),
    [("shingeki", "romaji"), ("Attack on", "English"), ("進撃の巨人", "Japanese")],
)
def test_suggestions_as_you_type_in_every_language(
    server: LiveServer, page: Page, typed: str, language: str
) -> None:
    page.goto(server.url + "/")
    box = page.get_by_role("combobox", name="Search anime")
    expect(box).to_have_attribute("type", "search")
    box.fill(typed)
    suggestions = page.get_by_role("listbox", name="Suggestions")
    option = suggestions.get_by_role("option").first
    expect(option).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.activeElement.id") == "search-input"
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "suggestion-0")
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/anime/{AOT}$")), language
    expect(page.get_by_role("heading", level=1)).to_have_text("Attack on Titan")


def test_journey_browse_search_with_a_typo_log_in_play_and_stop(
    server: LiveServer, context: BrowserContext, page: Page, sim_url: str
) -> None:
    """browse -> search with a typo -> the anime page -> log in -> play -> stop (released)."""
    page.goto(server.url + "/")
    expect(page.get_by_role("list", name="Anime").get_by_role("link").first).to_be_visible()

    box = page.get_by_role("combobox", name="Search anime")
    box.fill("atack on titn")
    box.press("Enter")  # no suggestion chosen: the results page
    expect(page).to_have_url(re.compile(r"/search\?q=atack"))
    results = page.get_by_role("list", name="Search results")
    hit = results.get_by_role("link", name="Attack on Titan", exact=True)
    expect(hit).to_be_visible()
    hit.click()

    expect(page).to_have_url(re.compile(rf"/anime/{AOT}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Attack on Titan")
    expect(
        page.get_by_role("navigation", name="Elsewhere").get_by_role("link", name="MyAnimeList")
    ).to_have_attribute("href", re.compile(r"^https://myanimelist\.net/anime/\d+$"))
    episodes = page.locator(".episodes").get_by_role("listitem")
    expect(episodes.first).to_be_visible()

    page.get_by_role("banner").get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fanime%2F"))
    page.get_by_label("Email").fill(DEMO[0])
    page.get_by_label("Password").fill(DEMO[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/anime/{AOT}$"))  # back where the viewer was
    banner = page.get_by_role("banner")
    expect(banner.get_by_text("Premium")).to_be_visible()
    expect(banner.get_by_text(DEMO[0])).to_be_visible()

    before = _released(sim_url)
    # Grants live in PostgreSQL now (the fleet's), and an earlier test's session may still hold
    # one until its release: count this play's grant, not the account's.
    open_before = _open_streams(server)
    with page.expect_response(re.compile(r"/api/episodes/[^/]+/stream")) as stream:
        page.get_by_role("button", name=re.compile(r"^Play episode 1\b")).click()
    assert stream.value.status == 200
    body = stream.value.json()
    player = page.get_by_role("region", name=re.compile("Now playing"))
    expect(player.locator("video")).to_be_visible()
    quality = player.get_by_label("Quality")
    expect(quality).to_be_enabled()
    expect(quality.locator("option")).to_have_count(1 + len(body["qualities"]))
    subtitles = player.get_by_label("Subtitles")
    expect(subtitles.locator("option")).to_have_count(1 + len(body["subtitles"]))
    assert _open_streams(server) == open_before + 1
    shot(page, "journey-player-desktop")

    with page.expect_response(
        lambda r: r.request.method == "DELETE" and "/stream" in r.url
    ) as stop:
        player.get_by_role("button", name="Stop").click()
    assert stop.value.status == 204
    expect(player).to_have_count(0)
    assert _open_streams(server) == open_before  # the grant is gone from the session pool ...
    assert _released(sim_url) == before + 1  # ... and released upstream


def _open_streams(server: LiveServer) -> int:
    node = admin_get(server, "/admin/actors/session_pool")
    return int(node["summary"]["streams"])


def _released(sim_url: str) -> int:
    """Stream tokens the simulator has seen released (DELETE /playback/v1/token/...)."""
    stats = requests.get(sim_url + "/_sim/stats", timeout=10).json()
    return sum(
        v["count"] for route, v in stats["paths"].items() if route.startswith("/playback/v1/token/")
    )


def test_an_episode_plays_with_subtitles_and_quality_changes(
    server: LiveServer, context: BrowserContext, page: Page
) -> None:
    """The simulator's test pattern really plays in the <video> (hls.js into MSE)."""
    logged_in(context, server)
    page.goto(f"{server.url}/anime/{AOT}")
    page.get_by_role("button", name=re.compile(r"^Play episode 3\b")).click()
    player = page.get_by_role("region", name=re.compile("Now playing"))
    _wait_until_playing_past(page, 1.0)

    player.get_by_label("Subtitles").select_option(label="English")
    page.wait_for_function(
        """() => {
            const track = document.querySelector('.player video').textTracks[0];
            return track && track.mode === 'showing' && track.cues && track.cues.length > 0;
        }"""
    )

    position = page.evaluate("document.querySelector('.player video').currentTime")
    with page.expect_response(re.compile(r"/stream\?quality=360p")) as lower:
        player.get_by_label("Quality").select_option("360p")
    assert lower.value.status == 200 and lower.value.json()["quality"] == "360p"
    _wait_until_playing_past(page, position + 1.0)  # resumed where it was, and plays on

    before = _reports(server)
    # the last heartbeat goes out on Stop: what the player received reaches the bandwidth view
    with page.expect_response(re.compile(r"/api/streams/heartbeat$")) as beat:
        player.get_by_role("button", name="Stop").click()
    assert beat.value.status == 204
    expect(player).to_have_count(0)
    assert _reports(server) == before + 1


def _wait_until_playing_past(page: Page, seconds: float) -> None:
    page.wait_for_function(
        """(seconds) => {
            const v = document.querySelector('.player video');
            return (v && v.currentTime > seconds) || document.querySelector('.player .error');
        }""",
        arg=seconds,
        timeout=30_000,
    )
    failed = page.locator(".player .error")
    assert failed.count() == 0, failed.inner_text()


def _reports(server: LiveServer) -> int:
    qualities = admin_get(server, "/admin/streams/bandwidth")["qualities"]
    return sum(int(q["reports"]) for q in qualities.values())


STREAM_TIMES = (
    "performance.getEntriesByType('resource')"
    ".filter(e => /\\/api\\/episodes\\/[^/]+\\/stream/.test(e.name)).map(e => e.startTime)"
)


def test_upstream_outage_shows_the_retry_message_and_recovers_by_itself(
    server: LiveServer, context: BrowserContext, page: Page, sim_url: str
) -> None:
    logged_in(context, server)
    page.goto(f"{server.url}/anime/{AOT}")
    expect(page.get_by_role("banner").get_by_text("Premium")).to_be_visible()
    fault = requests.post(
        sim_url + "/_sim/faults",
        json={"path_prefix": "/playback/", "status": 503, "retry_after": 2},
        timeout=10,
    )
    assert fault.status_code in (200, 201), fault.text
    page.get_by_role("button", name=re.compile(r"^Play episode 2\b")).click()
    notice = page.get_by_role("status").filter(has_text="Crunchyroll is unavailable")
    expect(notice).to_have_text(re.compile(r"Crunchyroll is unavailable, retrying in [12] s"))
    shot(page, "outage-desktop")
    # Retry-After is honoured: the page asks again 2 s later, not before (resource timing in
    # the page: exact, whatever the test process is doing)
    page.wait_for_function(f"() => {STREAM_TIMES}.length >= 2", timeout=10_000)
    first, second = page.evaluate(STREAM_TIMES)[:2]
    assert second - first >= 1900, (first, second)

    requests.delete(sim_url + "/_sim/faults", timeout=10)  # the outage ends ...
    expect(notice).to_have_count(0, timeout=10_000)  # ... and the page recovers by itself
    player = page.get_by_role("region", name=re.compile("Now playing"))
    expect(player.get_by_label("Quality")).to_be_enabled()
    player.get_by_role("button", name="Stop").click()
    expect(player).to_have_count(0)


def test_keyboard_only_search_to_an_anime(server: LiveServer, page: Page) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("list", name="Anime").get_by_role("link").first).to_be_visible()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "search-input":
            break
    else:
        raise AssertionError("the search field is not reachable with Tab")
    page.keyboard.type("Death")
    expect(page.get_by_role("option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Death Note")
    expect(heading).to_be_focused()  # focus follows the navigation


def test_a_session_the_server_forgot_asks_to_log_in_again(
    server: LiveServer, context: BrowserContext, page: Page
) -> None:
    logged_in(context, server)
    page.goto(f"{server.url}/anime/{AOT}")
    token = page.evaluate("JSON.parse(localStorage.getItem('kensho.session')).token")
    out = requests.post(
        server.url + "/api/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert out.status_code == 204
    page.get_by_role("button", name=re.compile(r"^Play episode 4\b")).click()
    expect(page).to_have_url(re.compile(r"/login\?next=.*expired=1"))
    expect(page.get_by_role("alert")).to_have_text(re.compile("session has ended"))
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()


def test_offline_shows_a_banner_and_the_page_carries_on_when_back(
    server: LiveServer, context: BrowserContext, page: Page
) -> None:
    page.goto(server.url + "/")
    anime = page.get_by_role("list", name="Anime")
    expect(anime).to_have_attribute("aria-busy", "false")
    context.set_offline(True)
    expect(page.get_by_role("status")).to_contain_text("You are offline")
    page.get_by_label("Sort by").select_option("rating")  # its request fails ...
    expect(page.get_by_role("status")).to_contain_text("Kenshō cannot be reached, retrying in")
    context.set_offline(False)  # ... and is retried by itself once the network is back
    expect(page.get_by_role("status")).to_have_text("", timeout=15_000)
    expect(anime).to_have_attribute("aria-busy", "false")
    texts = anime.locator(".rating").all_inner_texts()
    ratings = [float(m.group(0)) for t in texts if (m := re.search(r"\d+\.\d+", t))]
    assert ratings and ratings == sorted(ratings, reverse=True)


def test_the_account_stream_limit_waits_and_plays_when_a_stream_frees(
    server: LiveServer, context: BrowserContext, page: Page
) -> None:
    """429 (too many active streams) -> a wait message, and a retry that succeeds by itself."""
    body = requests.post(
        server.url + "/api/auth/login",
        json={"username": DEMO[0], "password": DEMO[1]},
        timeout=10,
    ).json()
    other = {"Authorization": f"Bearer {body['token']}"}  # the same account, another device
    episodes = requests.get(f"{server.url}/api/anime/{AOT}/episodes?limit=20", timeout=10).json()[
        "items"
    ]
    taken = [ep["id"] for ep in episodes[10:14]]  # the demo account's limit is 4 streams
    for episode in taken:
        resp = requests.get(
            f"{server.url}/api/episodes/{episode}/stream", headers=other, timeout=10
        )
        assert resp.status_code == 200, resp.text
    try:
        logged_in(context, server)
        page.goto(f"{server.url}/anime/{AOT}")
        page.get_by_role("button", name=re.compile(r"^Play episode 16\b")).click()
        notice = page.get_by_role("status").filter(has_text="as many streams as it may")
        expect(notice).to_be_visible()
        freed = requests.delete(
            f"{server.url}/api/episodes/{taken[0]}/stream", headers=other, timeout=10
        )
        assert freed.status_code == 204
        expect(notice).to_have_count(0, timeout=15_000)
        player = page.get_by_role("region", name=re.compile("Now playing"))
        expect(player.get_by_label("Quality")).to_be_enabled()
        player.get_by_role("button", name="Stop").click()
        expect(player).to_have_count(0)
    finally:
        for episode in taken:
            requests.delete(
                f"{server.url}/api/episodes/{episode}/stream", headers=other, timeout=10
            )
