"""The real app's OpenAPI document: valid, complete, and honoured by every operation.

The server is `create_app(config)` with the default resources (PostgreSQL, Redis, the
simulator, the actor tree, auth, search, the catalog sync) on a loopback port; see
`live_server.py`. Schemathesis then drives every operation of the served document with
generated valid and invalid inputs and checks each response against the document.

Deliberate limits, each for a reason:
- Operations that change shared state run last, in an order that keeps the others meaningful:
  logout gets a fresh session per example (a shared token would be revoked by the first one),
  login runs after it (its generated failures trip the per-address limiter: 429 from then on,
  which is documented), and the breaker override runs last (`forced_open` turns upstream calls
  into 503s).
- `GET /admin/events` is a stream that lasts as long as its client: Schemathesis, which reads
  whole bodies, leaves it out; `test_the_console_feed_is_an_event_stream` reads its first event.
- `status_code_conformance` is not applied to the docs routes (not in the document) and
  `304` is not exercised: the document declares no `If-None-Match` parameter, so generated
  requests never send one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from live_server import ADMIN_TOKEN, DEMO, LiveServer, live_server
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kensho.catalog import episode_id, seasons_for
from kensho.http.keys import WEB_BUNDLE
from kensho.http.openapi import SPEC_PATH, undocumented_routes
from kensho.http.route_info import UNMATCHED_NAME

pytestmark = pytest.mark.timeout(300)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    response_headers_conformance,
]
#: Examples per operation and generation mode: enough to reach each error branch, small
#: enough that the whole run stays well under 90 s on a shared 2-core machine.
POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
#: Run after everything else, in this order (see the module docstring).
LAST = ("POST /api/auth/logout", "POST /api/auth/login", "POST /admin/breaker")
#: Never-ending responses, checked on their own below.
STREAMS = ("GET /admin/events",)
_DOCS_ROUTE_PREFIX = "openapi."


@pytest.fixture(scope="module")
def server(
    postgres_server_dsn: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # A database of its own (on the server `database_url` comes from): the catalog the sync
    # writes is then exactly the simulator's slice, whatever other tests left in theirs.
    data_dir: Path = tmp_path_factory.mktemp("full-app")
    with live_server(postgres_server_dsn, redis_url, data_dir) as srv:
        yield srv


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    resp = requests.get(server.url + SPEC_PATH, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    return body


def _login(url: str) -> str:
    resp = requests.post(
        url + "/api/auth/login", json={"username": DEMO[0], "password": DEMO[1]}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token


def test_the_served_document_validates(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.0")


def test_every_route_is_documented_and_every_documented_path_is_routed(
    server: LiveServer, document: dict[str, Any]
) -> None:
    routed: set[tuple[str, str]] = set()
    for resource in server.app.router.resources():
        if (resource.name or "").startswith(_DOCS_ROUTE_PREFIX):
            continue  # the document itself, Swagger UI and its static assets
        if resource.name == UNMATCHED_NAME:
            continue  # the catch-all that answers 404/405 problems
        for route in resource:
            if route.method != "HEAD":
                routed.add((route.method, resource.canonical))
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    }
    assert routed - documented == set()
    assert documented - routed == set()
    assert undocumented_routes(server.app) == []
    assert ("GET", "/api/anime/{id}") in routed  # the product routes are really installed
    assert len(routed) >= 20


def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    """Shared error responses are problem+json, including 406 from compression negotiation."""
    responses = document["components"]["responses"]
    assert "NotAcceptable" in responses
    for name, response in responses.items():
        assert list(response["content"]) == ["application/problem+json"], name
    problem = "#/components/schemas/Problem"
    for path, item in document["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    if media["schema"].get("$ref") == problem:  # inline problems (not $ref'd)
                        assert media_type == "application/problem+json", (method, path, status)


def test_cache_invalidation_reaches_the_cache_through_the_real_wiring(
    server: LiveServer,
) -> None:
    # Regression: the tree built the cache actor with the service but no loop, so every
    # invalidation answered 503 "not attached" in the served app.
    requests.get(server.url + "/api/anime?limit=1", timeout=10).raise_for_status()
    resp = requests.post(
        server.url + "/admin/cache/invalidate",
        json={"pattern": "*"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["invalidated"] >= 1


def test_no_acceptable_coding_is_the_documented_406_problem(
    server: LiveServer, document: dict[str, Any]
) -> None:
    resp = requests.get(
        server.url + "/api/anime", headers={"Accept-Encoding": "identity;q=0"}, timeout=10
    )
    assert resp.status_code == 406
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json()["status"] == 406
    responses = document["paths"]["/api/anime"]["get"]["responses"]
    assert responses["406"] == {"$ref": "#/components/responses/NotAcceptable"}


def test_the_console_feed_is_an_event_stream(server: LiveServer, document: dict[str, Any]) -> None:
    op = document["paths"]["/admin/events"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    with requests.get(
        server.url + "/admin/events",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        stream=True,
        timeout=10,
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lines = resp.iter_lines(decode_unicode=True)
        assert next(lines) == "event: state"
        data = next(lines)
        assert data.startswith("data: {") and '"tree"' in data


def _known_ids(server: LiveServer) -> dict[str, dict[str, str]]:
    """Path parameters naming real resources, so success responses are checked too."""
    entry = next(e for e in server.catalog.entries if seasons_for(e))
    first = seasons_for(entry)[0]
    return {
        "/api/anime/{id}": {"id": entry.series_id},
        "/api/anime/{id}/episodes": {"id": entry.series_id},
        "/api/episodes/{id}/stream": {"id": episode_id(entry.series_id, first.number, 1)},
        "/admin/actors/{name}": {"name": "cache"},
        # The breaker: restarting it is harmless to the operations that follow (a session-pool
        # restart would drop the session they use).
        "/admin/actors/{name}/restart": {"name": "breaker"},
        "/admin/flags/{key}": {"key": "search-ranking"},
        "/anime/{id}": {"id": entry.series_id},
        "/assets/{name}": {"name": sorted(server.app[WEB_BUNDLE].assets)[0]},
    }


def _order(label: str) -> int:
    return LAST.index(label) + 1 if label in LAST else 0


def _run(
    case_strategy: Any, max_examples: int, call: Callable[[Any], None]
) -> BaseException | None:
    """Drive one strategy; return the failure instead of raising, so every operation runs."""

    @given(case=case_strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        report_multiple_bugs=False,
    )
    def run(case: Any) -> None:
        call(case)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # a check failed: report it, go on
        return exc
    return None


def test_schemathesis_finds_no_server_error_and_no_schema_drift(server: LiveServer) -> None:
    # Operations are driven one by one with hypothesis rather than `schema.parametrize()`,
    # whose lazy fixture loader does not work with pytest 9 (Function has no `_nodeid`).
    api = schemathesis.openapi.from_url(server.url + SPEC_PATH)
    loaded = list(api.get_all_operations())
    assert all(isinstance(result, Ok) for result in loaded), loaded
    operations = sorted(
        (cast(Ok[Any], result).ok() for result in loaded), key=lambda op: _order(op.label)
    )
    session_token = _login(server.url)
    known = _known_ids(server)
    failures: dict[str, str] = {}
    tested: list[str] = []
    seen: dict[str, Counter[int]] = {}
    for op in operations:
        if op.label in STREAMS:
            continue
        schemes = {name for req in op.definition.raw.get("security", []) for name in req}

        def call(case: Any, schemes: set[str] = schemes, label: str = op.label) -> None:
            headers: dict[str, str] = {}
            if "adminToken" in schemes:
                headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            elif "sessionToken" in schemes:
                fresh = label == "POST /api/auth/logout"
                token = _login(server.url) if fresh else session_token
                headers["Authorization"] = f"Bearer {token}"
            response = case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)
            seen.setdefault(label, Counter())[response.status_code] += 1

        strategies = [(op.as_strategy(GenerationMode.POSITIVE), POSITIVE_EXAMPLES)]
        if op.definition.raw.get("parameters") or "requestBody" in op.definition.raw:
            # Without inputs there is nothing to make invalid (hypothesis: Unsatisfiable).
            strategies.append((op.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES))
        if op.path in known:
            strategies.append((op.as_strategy(path_parameters=known[op.path]), POSITIVE_EXAMPLES))
        for strategy, examples in strategies:
            error = _run(strategy, examples, call)
            if error is not None:
                failures.setdefault(op.label, f"{type(error).__name__}: {error}"[:3000])
        tested.append(op.label)
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    assert set(LAST) <= set(tested)
    assert "GET /api/anime/{id}" in tested
    assert len(tested) >= 20
    # Success bodies were checked too: every operation answered 2xx at least once (generated
    # credentials never log in, so login's successes are the fixture's own logins).
    never_succeeded = {
        label for label in tested if not any(200 <= status < 300 for status in seen.get(label, ()))
    }
    assert never_succeeded == {"POST /api/auth/login"}, seen
