"""Locust scenarios for Kenshō: a browsing front end, a searching user and a viewer.

Run against a local server (loopback only):
    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8080 \
        --headless -u 50 -r 10 -t 60s
"""

from __future__ import annotations

import random
from typing import ClassVar

from locust import HttpUser, between, task

QUERIES = [
    "attack on titan",
    "shingeki no kyojn",
    "steins gate",
    "進撃の巨人",
    "naruto",
    "one piece",
    "your name",
    "kimi no na wa",
    "fullmetal",
    "death note",
    "cowboy bebop",
    "haikyu",
]


class Browser(HttpUser):
    """Reads the catalog the way the front end's home and detail pages do."""

    wait_time = between(0.05, 0.5)
    ids: ClassVar[list[str]] = []  # shared by every simulated user: loaded once

    def on_start(self) -> None:
        if not Browser.ids:
            resp = self.client.get("/api/anime?sort=popularity&limit=50", name="/api/anime")
            if resp.ok:
                Browser.ids = [item["id"] for item in resp.json()["items"]]

    @task(10)
    def detail(self) -> None:
        if self.ids:
            # Zipf-like: popular titles are read far more often.
            idx = min(int(random.paretovariate(1.2)) - 1, len(self.ids) - 1)
            self.client.get(f"/api/anime/{self.ids[idx]}", name="/api/anime/{id}")

    @task(3)
    def browse(self) -> None:
        genre = random.choice(["Action", "Comedy", "Drama", "Romance", "Fantasy"])
        self.client.get(f"/api/anime?genre={genre}&limit=20", name="/api/anime?genre")

    @task(2)
    def episodes(self) -> None:
        if self.ids:
            self.client.get(
                f"/api/anime/{random.choice(self.ids)}/episodes?limit=25",
                name="/api/anime/{id}/episodes",
            )


class Searcher(HttpUser):
    """Types into the search box: suggestions per keystroke, then a search."""

    wait_time = between(0.2, 1.0)

    @task
    def type_and_search(self) -> None:
        query = random.choice(QUERIES)
        for end in range(2, min(len(query), 6) + 1):
            self.client.get(f"/api/search/suggest?q={query[:end]}", name="/api/search/suggest")
        self.client.get(f"/api/search?q={query}", name="/api/search")


class Viewer(HttpUser):
    """Logs in with the simulator's demo account, watches one episode, reports, logs out.

    Every simulated viewer shares the one premium demo account, whose concurrent-stream limit
    (Crunchyroll's per-account rule, enforced by the simulator) Kenshō answers with a 429
    problem. That is the correct answer for this account, so it is counted as such, under its
    own name, instead of as a failure; logging out releases the session's streams.
    """

    wait_time = between(1, 3)

    @task
    def watch_an_episode(self) -> None:
        if not Browser.ids:
            return
        login = self.client.post(
            "/api/auth/login", json={"username": "demo@kensho.dev", "password": "kensho-demo"}
        )
        if not login.ok:
            return
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        anime = random.choice(Browser.ids)
        eps = self.client.get(
            f"/api/anime/{anime}/episodes?limit=1", name="/api/anime/{id}/episodes"
        )
        if eps.ok and eps.json()["items"]:
            episode = eps.json()["items"][0]["id"]
            with self.client.get(
                f"/api/episodes/{episode}/stream?quality=auto",
                headers=headers,
                name="/api/episodes/{id}/stream",
                catch_response=True,
            ) as resp:
                if resp.status_code == 429:
                    resp.success()  # the account's stream limit: a correct, expected answer
                    self.environment.events.request.fire(
                        request_type="INFO",
                        name="stream limit reached (429)",
                        response_time=0,
                        response_length=0,
                        exception=None,
                        context={},
                    )
                elif resp.ok:
                    quality = resp.json()["quality"]
                    self.client.post(
                        "/api/streams/heartbeat",
                        json={
                            "episode_id": episode,
                            "quality": quality,
                            "bytes": 4_000_000,
                            "seconds": 10,
                        },
                        headers=headers,
                    )
        self.client.post("/api/auth/logout", headers=headers)
