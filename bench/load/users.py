"""The weighted Locust user classes: who uses Kenshō, how often, and how long they think.

| class | weight | does | thinks |
|---|---|---|---|
| `Viewer` | 10 | home page, detail pages (Zipf ids), episode lists, genre pages | 1–3 s |
| `Searcher` | 5 | suggestions per keystroke, then a search (evaluation set, typos) | 2–5 s |
| `BingeWatcher` | 3 | login, stream, heartbeats, next episode, stop, logout | 2 s beats |
| `AbusiveClient` | fixed 2 | bursts far above the rate limit, then a pause | 4–8 s |
| `Operator` | fixed 1 | admin reads: actors, bandwidth, search analytics, metrics | 3–6 s |

Every user is a distinct client: it sends its own `X-Forwarded-For` (honoured only where the
server trusts the proxy in front of it). Configuration comes from the environment, so one file
serves a laptop run, the chaos run and CI: `KENSHO_LOAD_ADMIN_TOKEN` (operator; without it the
operator only reads /metrics), `KENSHO_LOAD_ACCOUNTS` (binge accounts the simulator knows, see
`data.sim_accounts`; 0 = the demo account), `KENSHO_LOAD_ABUSE_TARGETS` and
`KENSHO_LOAD_ABUSE_SOURCES` (comma-separated replica URLs and loopback source addresses: the
abusive clients then bypass the balancer, for servers that key the limit on the peer address),
`KENSHO_LOAD_ABUSE_BURST` (requests per burst, default 150).
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Any, ClassVar

import gevent.pool
from locust import HttpUser, between, constant, task
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bench.load.data import ACCOUNT_PASSWORD, GENRES, Zipf, account, search_queries, typo

__all__ = ["AbusiveClient", "BingeWatcher", "KenshoUser", "Operator", "Searcher", "Viewer"]

_CLIENTS = itertools.count(1)
_ACCOUNTS = itertools.count()
_ABUSERS = itertools.count()
DEMO = ("demo@kensho.dev", "kensho-demo")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


class KenshoUser(HttpUser):
    """Shared by every class: a client address, the catalog's ids by popularity, helpers."""

    abstract = True
    ids: ClassVar[list[str]] = []  # most popular first; shared by every user of the process
    zipf: ClassVar[Zipf | None] = None

    def on_start(self) -> None:
        n = next(_CLIENTS)
        self.ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.rng = random.Random(n)
        self.client.headers["X-Forwarded-For"] = self.ip
        self.client.mount("http://", _ClientAdapter())
        if not KenshoUser.ids:
            self._load_ids()

    def context(self) -> dict[str, Any]:
        return {"user": type(self).__name__, "client": getattr(self, "ip", "")}

    def _load_ids(self, pages: int = 5) -> None:
        """The first `pages` × 100 anime by popularity: the Zipf ranks' order."""
        ids: list[str] = []
        cursor = ""
        for _ in range(pages):
            resp = self.client.get(
                f"/api/anime?sort=popularity&limit=100{cursor}", name="/api/anime?sort"
            )
            if not resp.ok:
                break
            body = resp.json()
            ids += [item["id"] for item in body.get("items", [])]
            nxt = body.get("next_cursor")
            if not nxt:
                break
            cursor = f"&cursor={nxt}"
        if ids and not KenshoUser.ids:
            KenshoUser.ids = ids
            KenshoUser.zipf = Zipf(len(ids))

    def popular_id(self) -> str | None:
        if not self.ids or self.zipf is None:
            return None
        return self.zipf.pick(self.ids, self.rng)


class Viewer(KenshoUser):
    """Browses the catalog as the front end's home, genre and detail pages do."""

    weight = 10
    wait_time = between(1, 3)

    @task(3)
    def home(self) -> None:
        self.client.get("/api/anime?sort=popularity&limit=20", name="/api/anime?sort")

    @task(10)
    def detail(self) -> None:
        anime = self.popular_id()
        if anime:
            self.client.get(f"/api/anime/{anime}", name="/api/anime/{id}")

    @task(4)
    def episodes(self) -> None:
        anime = self.popular_id()
        if anime:
            self.client.get(
                f"/api/anime/{anime}/episodes?limit=25", name="/api/anime/{id}/episodes"
            )

    @task(2)
    def genre(self) -> None:
        genre = self.rng.choice(GENRES)
        self.client.get(f"/api/anime?genre={genre}&limit=20", name="/api/anime?genre")


class Searcher(KenshoUser):
    """Types a query from the evaluation set (a third of them with a slip of the fingers):
    one suggestion request per keystroke after the second, then the search."""

    weight = 5
    wait_time = between(2, 5)
    queries: ClassVar[list[str]] = []
    popularity: ClassVar[Zipf | None] = None

    def on_start(self) -> None:
        super().on_start()
        if not Searcher.queries:
            mix = list(search_queries())
            random.Random(17).shuffle(mix)  # which queries are popular: fixed, not alphabetical
            Searcher.queries, Searcher.popularity = mix, Zipf(len(mix))

    @task
    def type_and_search(self) -> None:
        popularity = self.popularity
        query = popularity.pick(self.queries, self.rng) if popularity else "naruto"
        if self.rng.random() < 0.33:
            query = typo(query, self.rng)
        for end in range(2, min(len(query), 6) + 1):
            self.client.get(
                "/api/search/suggest", params={"q": query[:end]}, name="/api/search/suggest"
            )
            gevent.sleep(self.rng.uniform(0.1, 0.3))
        self.client.get("/api/search", params={"q": query}, name="/api/search")


class BingeWatcher(KenshoUser):
    """Logs in with its own simulator account, watches one to three episodes of a popular
    title (a heartbeat every two seconds, then stop), and logs out. A session therefore lives
    for tens of seconds: long enough to span a replica's restart."""

    weight = 3
    wait_time = constant(2)

    def on_start(self) -> None:
        super().on_start()
        count = int(_env("KENSHO_LOAD_ACCOUNTS", "0") or 0)
        self.login_as = (account(next(_ACCOUNTS) % count), ACCOUNT_PASSWORD) if count else DEMO

    @task
    def binge(self) -> None:
        anime = self.popular_id()
        if not anime:
            return
        login = self.client.post(
            "/api/auth/login", json={"username": self.login_as[0], "password": self.login_as[1]}
        )
        if not login.ok:
            return
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        eps = self.client.get(
            f"/api/anime/{anime}/episodes?limit=3", name="/api/anime/{id}/episodes"
        )
        episodes = [item["id"] for item in eps.json().get("items", [])] if eps.ok else []
        for episode in episodes[: self.rng.randint(1, 3)]:
            self._watch(episode, auth)
        self.client.get("/api/auth/me", headers=auth)
        self.client.post("/api/auth/logout", headers=auth)

    def _watch(self, episode: str, auth: dict[str, str]) -> None:
        with self.client.get(
            f"/api/episodes/{episode}/stream?quality=auto",
            headers=auth,
            name="/api/episodes/{id}/stream",
            catch_response=True,
        ) as resp:
            if resp.status_code == 429:  # the account's stream limit: a correct answer
                resp.success()
                return
            if not resp.ok:
                return
            quality = resp.json()["quality"]
        for _ in range(self.rng.randint(2, 4)):
            gevent.sleep(2)
            self.client.post(
                "/api/streams/heartbeat",
                json={"episode_id": episode, "quality": quality, "bytes": 2_500_000, "seconds": 2},
                headers=auth,
            )
        self.client.delete(
            f"/api/episodes/{episode}/stream", headers=auth, name="/api/episodes/{id}/stream"
        )


def _browser_retry() -> Retry:
    """Once, for a GET whose reused keep-alive connection the balancer closed as it was sent
    (HAProxy's client keep-alive timeout is 5 s, as long as some users think): what browsers
    do. Every retry is logged and counted (`events.RetryLog`); nothing else is retried."""
    return Retry(
        total=1,
        connect=0,
        read=1,
        status=0,
        redirect=0,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )


class _ClientAdapter(HTTPAdapter):
    """The users' connections: the browser-like retry above, optionally from one local
    address (127.0.0.x), which makes the client a distinct peer to the server."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        super().__init__(max_retries=_browser_retry())

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.source:
            kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class AbusiveClient(KenshoUser):
    """Bursts of requests far above the per-client limit, twelve at a time, then a pause.

    A 429 is the right answer and counts as a success under the `[abuse]` names; the
    requests it is refused are rate-limit outcomes per client in the report."""

    fixed_count = 2
    wait_time = between(4, 8)

    def on_start(self) -> None:
        super().on_start()
        self.base = ""
        targets = [t for t in _env("KENSHO_LOAD_ABUSE_TARGETS").split(",") if t]
        sources = [s for s in _env("KENSHO_LOAD_ABUSE_SOURCES").split(",") if s]
        if targets:
            n = next(_ABUSERS)
            self.base = targets[n % len(targets)]
            if sources:
                self.ip = sources[n % len(sources)]
                adapter = _ClientAdapter(self.ip)
                self.client.mount("http://", adapter)
        self.burst = int(_env("KENSHO_LOAD_ABUSE_BURST", "150"))

    @task
    def burst_of_requests(self) -> None:
        anime = self.popular_id() or "0"
        pool = gevent.pool.Pool(12)
        for i in range(self.burst):
            path = f"/api/anime/{anime}" if i % 2 else "/api/search/suggest?q=na"
            name = "[abuse] /api/anime/{id}" if i % 2 else "[abuse] /api/search/suggest"
            pool.spawn(self._one, path, name)
        pool.join()

    def _one(self, path: str, name: str) -> None:
        with self.client.get(self.base + path, name=name, catch_response=True) as resp:
            if resp.status_code == 429:
                resp.success()


class Operator(KenshoUser):
    """Reads the admin routes an on-call engineer keeps open, and the metrics."""

    fixed_count = 1
    wait_time = between(3, 6)

    def on_start(self) -> None:
        super().on_start()
        token = _env("KENSHO_LOAD_ADMIN_TOKEN")
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    @task(3)
    def actors(self) -> None:
        if self.auth:
            self.client.get("/admin/actors", headers=self.auth)

    @task(1)
    def bandwidth(self) -> None:
        if self.auth:
            self.client.get("/admin/streams/bandwidth", headers=self.auth)

    @task(1)
    def analytics(self) -> None:
        if self.auth:
            self.client.get("/admin/search/analytics", headers=self.auth)

    @task(2)
    def metrics(self) -> None:
        self.client.get("/metrics")
