"""The load report (`bench.load.report`) and the smoke verdict (`bench.chaos`) from a small
synthetic run: criteria judged from the numbers, plots and markdown written (no servers)."""

from __future__ import annotations

import copy
import csv
import gzip
import json
from pathlib import Path
from typing import Any

from bench.chaos import smoke_verdict
from bench.load.report import criteria, render


def _phase(name: str, kind: str, start: float, end: float, **kw: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "seconds": end - start,
        "requests": 1000,
        "rps": 10.0,
        "failed": 0,
        "documented": 0,
        "unexpected": 0,
        "unanswered": 0,
        "error_rate": 0.0,
        "unexpected_rate": 0.0,
        "failures_by_status": {},
        "http_429": 0,
        "abuse_requests": 50,
        "abuse_429": 20,
        "breaker": ["closed"],
        "cache_hit_ratio": 0.9,
        "server_statuses": {},
        "recovery_s": 0.0,
        "endpoints": {
            "GET /api/anime/{id}": {"requests": 500, "p50_ms": 5.0, "p95_ms": 40.0, "p99_ms": 90.0}
        },
    }
    return base | kw


RUN: dict[str, Any] = {
    "date": "2026-11-29 23:00 UTC",
    "machine": {
        "cpus": 2,
        "model": "test CPU",
        "memory_gb": 8,
        "python": "3.11",
        "load_avg_at_start": 1.0,
    },
    "stack": {
        "replicas": 2,
        "haproxy": True,
        "startup_s": 30,
        "trusted_proxies": False,
        "rate_limit": [50.0, 50],
        "catalog_series": "all",
    },
    "plan": {"users": 30, "baseline": 60, "fault": 25, "recover": 30},
    "windows": [
        {
            "name": "upstream-outage",
            "kind": "upstream",
            "start": 160.0,
            "end": 185.0,
            "until": 190.0,
            "detail": {"recovery_s": 5.0},
        },
        {
            "name": "rolling",
            "kind": "rolling",
            "start": 215.0,
            "end": 260.0,
            "until": 260.0,
            "detail": {"recovery_s": 0.0},
        },
    ],
    "phases": [
        _phase("baseline", "none", 100.0, 160.0),
        _phase(
            "upstream-outage",
            "upstream",
            160.0,
            215.0,
            failed=12,
            documented=12,
            breaker=["closed", "open", "half_open", "closed"],
            recovery_s=5.0,
        ),
        _phase("rolling", "rolling", 215.0, 290.0),
    ],
    "total": {"requests": 3000, "unexpected": 0, "unanswered": 0, "failures_by_status": {}},
    "notes": {"rolling": {"sessions_before": 8, "sessions_after": 8}},
    "replica_restarts": [],
    "catalog_rows": {"before": {"series": 10}, "after": {"series": 10}, "lost": {}},
    "rate_limit_by_client": {
        "AbusiveClient 127.0.0.2": {"admitted": 80, "limited": 20, "other": 0}
    },
}


def _verdicts(run: dict[str, Any]) -> list[bool]:
    return [ok for _, _, ok in criteria(run)]


def test_a_healthy_run_passes_every_criterion() -> None:
    assert all(_verdicts(RUN))
    assert smoke_verdict(RUN) == []


def test_a_slow_endpoint_fails_the_p95_criterion() -> None:
    run = copy.deepcopy(RUN)
    run["phases"][0]["endpoints"]["GET /api/search"] = {
        "requests": 100,
        "p50_ms": 50.0,
        "p95_ms": 250.0,
        "p99_ms": 400.0,
    }
    rows = criteria(run)
    assert rows[0][2] is False
    assert "GET /api/search: 250.0 ms" in rows[0][1]


def test_no_judged_endpoint_is_no_pass() -> None:
    run = copy.deepcopy(RUN)
    run["phases"][0]["endpoints"]["GET /api/anime/{id}"]["requests"] = 3
    assert criteria(run)[0][2] is False


def test_a_failure_in_the_rolling_restart_or_a_lost_session_fails() -> None:
    run = copy.deepcopy(RUN)
    run["phases"][2]["failed"] = 1
    assert criteria(run)[3][2] is False
    run = copy.deepcopy(RUN)
    run["notes"]["rolling"]["sessions_after"] = 7
    assert criteria(run)[3][2] is False


def test_no_recovery_and_lost_answers_fail_the_smoke_run() -> None:
    run = copy.deepcopy(RUN)
    run["phases"][1]["recovery_s"] = None
    run["total"] |= {"unexpected": 2, "unanswered": 1, "failures_by_status": {"500": 1, "0": 1}}
    run["catalog_rows"]["lost"] = {"series": 1}
    problems = smoke_verdict(run)
    assert len(problems) == 4
    assert not criteria(run)[2][2]


def test_render_writes_the_plots_and_the_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "run.json").write_text(json.dumps(RUN))
    fields = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
        "50%",
        "95%",
        "99%",
    ]
    with (data / "locust_stats_history.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for t in range(100, 290, 5):
            writer.writerow(
                {
                    "Timestamp": t,
                    "User Count": 30,
                    "Type": "",
                    "Name": "Aggregated",
                    "Requests/s": 10,
                    "Failures/s": 0,
                    "50%": 5,
                    "95%": "N/A" if t == 100 else 40,
                    "99%": 90,
                }
            )
    with gzip.open(data / "events.jsonl.gz", "wt") as f:
        for t in range(100, 290):
            status = 503 if 165 <= t < 170 else 200
            f.write(
                json.dumps(
                    {
                        "t": t,
                        "ms": 5,
                        "method": "GET",
                        "name": "/api/anime/{id}",
                        "status": status,
                        "ok": status == 200,
                        "problem": "circuit-open" if status == 503 else "",
                        "user": "Viewer",
                        "client": "10.0.0.1",
                    }
                )
                + "\n"
            )
    scrapes = [
        {
            "t": float(t),
            "replica": "kensho-1",
            "up": True,
            "breaker": "closed",
            "cache": {"l1": t * 9.0, "miss": float(t)},
            "statuses": {},
        }
        for t in range(100, 290, 2)
    ]
    (data / "scrapes.json").write_text(json.dumps(scrapes))
    docs = tmp_path / "docs"
    report = render(data, docs)
    text = report.read_text()
    for png in ("latency", "throughput", "errors", "cache", "ratelimit"):
        assert (docs / "load-report" / f"{png}.png").stat().st_size > 1000
        assert f"load-report/{png}.png" in text
    assert "| upstream-outage | 1000 |" in text
    assert "| **FAIL** |" not in text  # the criteria table (the notes may quote a FAIL)
    assert "2 × test CPU" in text
