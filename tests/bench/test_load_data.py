"""What the load's users pick (`bench.load.data`), how requests are logged
(`bench.load.events`) and what is read from /metrics (`bench.load.scrape`); no servers."""

from __future__ import annotations

import io
import json
import logging
import random
from collections import Counter
from typing import Any

import pytest

from bench.load.data import Zipf, search_queries, sim_accounts, typo
from bench.load.events import EventLog, RetryLog
from bench.load.scrape import parse_metrics
from kensho.config import parse_sim_accounts


def test_zipf_favours_the_first_ranks_and_stays_in_range() -> None:
    rng = random.Random(1)
    zipf = Zipf(500)
    ranks = Counter(zipf.rank(rng) for _ in range(20_000))
    assert min(ranks) >= 0
    assert max(ranks) < 500
    assert ranks[0] > 5 * ranks[9] > 0  # 1/(k+1)^1.1: rank 0 is ~12x rank 9
    top10 = sum(ranks[k] for k in range(10))
    assert top10 > 20_000 * 0.3


def test_zipf_pick_never_runs_past_a_shorter_list() -> None:
    zipf = Zipf(100)
    rng = random.Random(2)
    assert {zipf.pick(["a", "b"], rng) for _ in range(500)} <= {"a", "b"}
    with pytest.raises(ValueError, match="at least 1"):
        Zipf(0)


def test_queries_come_from_the_evaluation_set_in_every_script() -> None:
    queries = search_queries()
    assert len(queries) > 200
    assert "attack on titan" in queries
    assert any(any("\u3040" <= ch <= "\u30ff" for ch in q) for q in queries)  # kana


def test_a_typo_changes_one_place() -> None:
    rng = random.Random(3)
    for _ in range(200):
        slipped = typo("fullmetal alchemist", rng)
        assert abs(len(slipped) - len("fullmetal alchemist")) <= 1
    assert typo("ab", rng) == "ab"


def test_sim_accounts_is_what_the_simulator_and_the_server_accept() -> None:
    specs = parse_sim_accounts(sim_accounts(3))
    assert len(specs) == 3
    assert len({spec[0] for spec in specs}) == 3


class _Response:
    def __init__(self, status: int, body: Any, content_type: str) -> None:
        self.status_code = status
        self.headers = {"Content-Type": content_type}
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


def _log(**kw: Any) -> dict[str, Any]:
    out = io.StringIO()
    EventLog(out)(
        request_type="GET",
        name="/api/search",
        response_time=12.34,
        context={"user": "Searcher", "client": "10.0.0.9"},
        start_time=5.5,
        **kw,
    )
    return dict(json.loads(out.getvalue()))


def test_event_log_keeps_the_problem_type_of_an_error() -> None:
    resp = _Response(
        503, {"type": "https://kensho.dev/problems/circuit-open"}, "application/problem+json"
    )
    record = _log(response=resp, exception=RuntimeError("503"))
    assert record == {
        "t": 5.5,
        "ms": 12.3,
        "method": "GET",
        "name": "/api/search",
        "status": 503,
        "ok": False,
        "user": "Searcher",
        "client": "10.0.0.9",
        "problem": "circuit-open",
    }


def test_event_log_survives_hostile_bodies_and_no_answer() -> None:
    assert _log(response=_Response(502, "<html>", "text/html"))["problem"] == ""
    assert (
        _log(response=_Response(500, ValueError("bad json"), "application/problem+json"))["problem"]
        == ""
    )
    assert (
        _log(response=_Response(500, ["not", "an", "object"], "application/problem+json"))[
            "problem"
        ]
        == ""
    )
    unanswered = _log(response=_Response(0, None, ""), exception=ConnectionError("reset"))
    assert (unanswered["status"], unanswered["ok"], unanswered["error"]) == (
        0,
        False,
        "ConnectionError",
    )


def test_parse_metrics_reads_breaker_cache_and_statuses() -> None:
    text = "\n".join(
        [
            "# TYPE breaker_state gauge",
            'breaker_state{state="closed"} 0.0',
            'breaker_state{state="open"} 1.0',
            "# TYPE cache_lookups counter",
            'cache_lookups_total{tier="l1"} 7.0',
            'cache_lookups_total{tier="miss"} 3.0',
            "# TYPE request_duration_seconds histogram",
            'request_duration_seconds_count{route="/a",method="GET",status="200"} 5.0',
            'request_duration_seconds_count{route="/b",method="GET",status="200"} 2.0',
            'request_duration_seconds_count{route="/b",method="GET",status="429"} 4.0',
            "",
        ]
    )
    parsed = parse_metrics(text)
    assert parsed["breaker"] == "open"
    assert parsed["cache"] == {"l1": 7.0, "miss": 3.0}
    assert parsed["statuses"] == {"200": 7.0, "429": 4.0}


def test_retry_log_records_urllib3_retries_only() -> None:
    out = io.StringIO()
    logger = logging.getLogger("test.retrylog")
    logger.propagate = False
    handler = RetryLog(out)
    logger.addHandler(handler)
    try:
        logger.warning(
            "Retrying (%r) after connection broken by '%r': %s",
            "Retry(total=0)",
            "RemoteDisconnected('closed')",
            "/api/search",
        )
        logger.warning("Connection pool is full, discarding connection")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    assert lines[0]["retry"] is True
    assert lines[0]["name"] == "[client-retry]"
    assert "RemoteDisconnected" in lines[0]["error"]
