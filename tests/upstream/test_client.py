"""CrunchyrollClient against a scripted server: retries, classification, headers, pool."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider

from kensho.errors import CircuitOpen, ServiceUnavailable, ValidationFailed
from kensho.observability.logging import request_id_var
from kensho.upstream import errors as e
from kensho.upstream.breaker import BreakerConfig, BreakerState, CircuitBreaker
from kensho.upstream.gate import LocalBreakerGate
from kensho.upstream.retry import RetryPolicy
from kensho.upstream.tokens import Token

from .conftest import Harness, Script

TOKEN = Token("access-1", "refresh-1", 2e9, "acct-1", False, "dev-1")
CLOUDFLARE = "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>"
OVERLOADED = "<html><head><title>Crunchyroll - Overloaded</title></head></html>"


def jwt(claims: dict[str, object]) -> str:
    def seg(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'HS256'})}.{seg(claims)}.c2ln"


def html(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/html", headers=headers)


async def test_retries_idempotent_get_with_exponential_full_jitter(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(html(503, OVERLOADED), html(502, "bad gateway"), web.json_response({"data": [1]}))
    h = make_client(url, rand=0.5)
    async with h.client as c:
        assert await c.get_json("/content/v2/cms/series/GY1", None, TOKEN) == {"data": [1]}
    assert len(s.seen) == 3
    # full jitter: U * min(max, base * 2**(n-1)) with U = 0.5
    assert h.sleeps == pytest.approx([0.05, 0.1])
    assert h.reports[-1].attempts == 3 and h.reports[-1].status == 200


@pytest.mark.parametrize("u", [0.0, 0.999])
async def test_jitter_stays_within_bounds(
    u: float, script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(*(html(500, "x") for _ in range(4)))
    h = make_client(url, rand=u, retry=RetryPolicy(attempts=4, base_delay=0.1, max_delay=10))
    async with h.client as c:
        with pytest.raises(e.UpstreamUnavailable):
            await c.get_json("/content/v2/cms/series/GY1", None, TOKEN)
    ceilings = [0.1, 0.2, 0.4]
    assert all(0 <= d <= ceil for d, ceil in zip(h.sleeps, ceilings, strict=True))
    assert h.sleeps == pytest.approx([u * c for c in ceilings])


async def test_retry_after_is_honoured(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(
        web.json_response(
            {"error": 4291, "reason": "Too many"}, status=429, headers={"Retry-After": "3"}
        )
    )
    h = make_client(url)
    async with h.client as c:
        await c.get_json("/content/v2/discover/search", {"q": "x"}, TOKEN)
    assert h.sleeps == [3.0]


async def test_retry_after_beyond_the_deadline_fails_now(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(html(429, "Error 1015 You are being rate limited", **{"Retry-After": "120"}))
    h = make_client(url, call_timeout=2.0, retry=RetryPolicy(retry_after_cap=300))
    async with h.client as c:
        with pytest.raises(e.UpstreamRateLimited) as info:
            await c.get_json("/content/v2/cms/series/GY1", None, TOKEN)
    assert info.value.status == 503 and info.value.retry_after == 120
    assert h.sleeps == [] and len(s.seen) == 1


async def test_non_idempotent_play_is_not_retried(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(html(503, OVERLOADED), web.json_response({}))
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(e.UpstreamUnavailable) as info:
            await c.play("GRDKJZ81Y", TOKEN)
    assert info.value.overloaded
    assert len(s.seen) == 1 and h.sleeps == []


async def test_420_is_never_retried_and_names_streams(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    streams = [{"contentId": "G1", "deviceType": "web", "token": "secret-token"}]
    s.add(
        web.json_response(
            {"error": "TOO_MANY_ACTIVE_STREAMS", "activeStreams": streams}, status=420
        )
    )
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(e.TooManyActiveStreams) as info:
            await c.release_stream("G1", "tok1", TOKEN)  # even an idempotent call
    assert len(s.seen) == 1
    assert info.value.status == 429
    assert info.value.extra["active_streams"][0]["contentId"] == "G1"
    assert "secret-token" not in json.dumps(info.value.extra)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (web.json_response({"message": "bad", "type": "x.y"}), e.UpstreamApiError),
        (web.json_response({"code": "cms.error", "context": [{"code": "c"}]}), e.UpstreamApiError),
        (web.json_response({"error": "SOMETHING", "reason": "r"}), e.UpstreamApiError),
        (html(403, CLOUDFLARE), e.UpstreamBlocked),
        (
            web.json_response(
                {"code": "accounts.get_profile.invalid_auth_token", "context": []}, status=401
            ),
            e.UpstreamUnauthorized,
        ),
        (web.json_response({"code": "x", "context": []}, status=404), e.UpstreamNotFound),
        (web.json_response({"code": "premium", "context": []}, status=403), e.UpstreamForbidden),
        (web.Response(text="<xml>not json</xml>"), e.UpstreamDecodeError),
        (web.json_response([1, 2]), e.UpstreamDecodeError),
        (web.json_response({"code": "x", "context": []}, status=400), e.UpstreamApiError),
    ],
)
async def test_classification_without_retry(
    answer: web.Response,
    kind: type[Exception],
    script: tuple[Script, str],
    make_client: Callable[..., Harness],
) -> None:
    s, url = script
    s.add(answer)
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(kind) as info:
            await c.get_json("/content/v2/cms/series/GY1", None, TOKEN)
    assert len(s.seen) == 1, "deterministic answers are not retried"
    assert type(info.value) is kind


async def test_decode_error_keeps_truncated_body(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(web.Response(text="garbage" * 1000))
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(e.UpstreamDecodeError) as info:
            await c.get_json("/content/v2/cms/series/GY1", None, TOKEN)
    assert info.value.body.startswith("garbage") and len(info.value.body) <= 513


async def test_oversized_body_is_refused(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(web.Response(body=b"{" + b" " * 5000 + b"}", content_type="application/json"))
    h = make_client(url, max_body_bytes=1024)
    async with h.client as c:
        with pytest.raises(e.UpstreamDecodeError, match="exceeds 1024"):
            await c.get_json("/content/v2/cms/series/GY1", None, TOKEN)


async def test_request_id_trace_context_and_bearer_are_passed_on(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    h = make_client(url)
    tracer = TracerProvider().get_tracer("test")
    reset = request_id_var.set("req-123")
    try:
        async with h.client as c:
            with tracer.start_as_current_span("outer") as span:
                await c.get_json("/content/v2/cms/series/GY1", {"n": 5}, TOKEN)
    finally:
        request_id_var.reset(reset)
    _, path_qs, headers, _ = s.seen[0]
    assert headers["X-Request-ID"] == "req-123"
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert headers["traceparent"].split("-")[1] == trace_id
    assert headers["Authorization"] == "Bearer access-1"
    assert "locale=en-US" in path_qs and "n=5" in path_qs


async def test_password_grant_decodes_premium_and_sends_form(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    access = jwt({"benefits": ["cr_premium"], "exp": 1})
    s.add(
        web.json_response(
            {"access_token": access, "refresh_token": "r", "expires_in": 300, "account_id": "a"}
        )
    )
    h = make_client(url, client_id="cid", client_secret="sec")
    async with h.client as c:
        token = await c.password_grant("demo@kensho.dev", "pw", device_id="dev-9")
    assert token.premium and token.account_id == "a" and token.device_id == "dev-9"
    assert token.refresh_token == "r"
    method, _, headers, body = s.seen[0]
    assert method == "POST"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"cid:sec").decode()
    assert headers["ETP-Anonymous-ID"] == "dev-9"
    assert b"grant_type=password" in body and b"device_id=dev-9" in body
    assert "pw" not in repr(token) and access not in repr(token)


@pytest.mark.parametrize(
    ("status", "doc", "kind"),
    [
        (
            401,
            {
                "code": "auth.obtain_access_token.invalid_credentials",
                "context": [],
                "error": "invalid_grant",
            },
            e.InvalidCredentials,
        ),
        (
            401,
            {
                "code": "auth.obtain_access_token.client_inactive",
                "context": [],
                "error": "invalid_client",
            },
            e.ClientRejected,
        ),
        (
            400,
            {"code": "auth.refresh", "context": [], "error": "invalid_grant"},
            e.InvalidRefreshToken,
        ),
    ],
)
async def test_auth_errors(
    status: int,
    doc: dict[str, object],
    kind: type[Exception],
    script: tuple[Script, str],
    make_client: Callable[..., Harness],
) -> None:
    s, url = script
    s.add(web.json_response(doc, status=status))
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(kind):
            await c.refresh_grant("old-refresh", "dev-1")
    assert len(s.seen) == 1


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "x" * 200, "G1?x=1", "é"])
async def test_hostile_ids_never_reach_the_wire(
    bad: str, script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(ValidationFailed):
            await c.play(bad, TOKEN)
        with pytest.raises(ValidationFailed):
            await c.release_stream("G1", bad, TOKEN)
    assert s.seen == []


@pytest.mark.parametrize("bad", ["//evil.example/x", "/a/../../b", "http://x/", "/a b", "/a\nb"])
async def test_hostile_paths_and_urls(
    bad: str, script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    h = make_client(url)
    async with h.client as c:
        with pytest.raises(ValidationFailed):
            await c.get_json(bad, None, TOKEN)
        with pytest.raises(ValidationFailed):
            await c.fetch_text("file:///etc/passwd")
        with pytest.raises(ValidationFailed):
            await c.get_json("/ok", {"q": "x" * 5000}, TOKEN)
    assert s.seen == []


async def test_pool_exhaustion_fails_fast_then_queued_calls_complete(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    gate = asyncio.Event()
    arrived = asyncio.Semaphore(0)

    async def slow(_: web.Request) -> web.StreamResponse:
        arrived.release()
        await gate.wait()
        return web.json_response({"ok": True})

    s.fallback = slow
    h = make_client(url, pool_size=2, acquire_timeout=0.05)
    async with h.client as c:
        busy = [asyncio.create_task(c.get_json("/x", None, TOKEN)) for _ in range(2)]
        await arrived.acquire()
        await arrived.acquire()
        assert c.stats()["in_use"] == 2
        with pytest.raises(e.UpstreamPoolExhausted) as info:
            await c.get_json("/x", None, TOKEN)
        assert isinstance(info.value, ServiceUnavailable) and info.value.status == 503
        gate.set()
        assert await asyncio.gather(*busy) == [{"ok": True}] * 2

    # with a generous acquire timeout, 6 calls over 2 connections queue and all complete
    gate.clear()
    h2 = make_client(url, pool_size=2, acquire_timeout=30.0)
    async with h2.client as c:
        calls = [asyncio.create_task(c.get_json("/x", None, TOKEN)) for _ in range(6)]
        await arrived.acquire()
        await arrived.acquire()
        assert c.stats() | {} == {"pool_size": 2, "in_use": 2, "waiting": 4, "exhausted": 0}
        gate.set()
        assert len(await asyncio.gather(*calls)) == 6
        connector = c.session.connector
        assert connector is not None
    assert connector.closed and c.stats()["in_use"] == 0


async def test_connections_are_reused(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    ports: set[object] = set()

    async def peer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        ports.add(request.transport.get_extra_info("peername"))
        return web.json_response({})

    s.fallback = peer
    h = make_client(url)
    async with h.client as c:
        for _ in range(5):
            await c.get_json("/x", None, TOKEN)
    assert len(ports) == 1


async def test_unreachable_upstream_opens_the_breaker_then_fails_fast(
    make_client: Callable[..., Harness], unused_tcp_port: int
) -> None:
    breaker = CircuitBreaker(BreakerConfig(window_size=3, minimum_calls=3))
    h = make_client(f"http://127.0.0.1:{unused_tcp_port}", gate=LocalBreakerGate(breaker))
    async with h.client as c:
        with pytest.raises(e.UpstreamUnreachable):
            await c.get_json("/x", None, TOKEN)  # 3 attempts, 3 failures
        assert breaker.snapshot(time.monotonic()).state is BreakerState.OPEN
        with pytest.raises(CircuitOpen) as info:
            await c.get_json("/x", None, TOKEN)
        assert info.value.retry_after is not None and info.value.retry_after > 0


async def test_breaker_counts_success_for_healthy_refusals(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    s.add(*(web.json_response({"code": "x", "context": []}, status=404) for _ in range(5)))
    breaker = CircuitBreaker(BreakerConfig(window_size=3, minimum_calls=3))
    h = make_client(url, gate=LocalBreakerGate(breaker))
    async with h.client as c:
        for _ in range(5):
            with pytest.raises(e.UpstreamNotFound):
                await c.get_json("/x", None, TOKEN)
    snap = breaker.snapshot(0.0)
    assert snap.calls["success"] == 5 and snap.calls["failure"] == 0


async def test_fetch_json_shares_one_anonymous_grant_and_regrants_on_401(
    script: tuple[Script, str], make_client: Callable[..., Harness]
) -> None:
    s, url = script
    grants = 0

    async def route(request: web.Request) -> web.StreamResponse:
        nonlocal grants
        if request.path == "/auth/v1/token":
            grants += 1
            await asyncio.sleep(0)
            return web.json_response({"access_token": f"anon-{grants}", "expires_in": 300})
        if request.headers["Authorization"] == "Bearer anon-1" and request.path == "/stale":
            return web.json_response({"code": "x.invalid_auth_token", "context": []}, status=401)
        return web.json_response({"auth": request.headers["Authorization"]})

    s.fallback = route
    h = make_client(url)
    async with h.client as c:
        results = await asyncio.gather(
            *(c.fetch_json("/content/v2/cms/series/G1") for _ in range(5))
        )
        assert grants == 1
        assert {r["auth"] for r in results} == {"Bearer anon-1"}
        assert await c.fetch_json("/stale") == {"auth": "Bearer anon-2"}
        assert grants == 2


async def test_close_is_idempotent_and_not_started_is_an_error(
    make_client: Callable[..., Harness],
) -> None:
    h = make_client("http://127.0.0.1:9")
    with pytest.raises(RuntimeError):
        await h.client.get_json("/x", None, TOKEN)
    await h.client.start()
    await h.client.close()
    await h.client.close()
