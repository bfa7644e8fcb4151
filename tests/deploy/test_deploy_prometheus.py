"""config/prometheus and config/grafana against a live server's /metrics.

promtool checks the rule files and runs their unit tests; every alert has a case that fires and
one that must not, and a runbook entry in docs/operations.md; every series a rule or a Grafana
panel reads is one a running `kensho serve` exports (scraped here), and request panels leave
out probes and /metrics.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploykit import REPO, debian_tool
from prometheus_client.parser import text_string_to_metric_families
from promql import metric_names
from serverproc import server_env

RULES = REPO / "config" / "prometheus" / "rules" / "kensho.yml"
RULE_TESTS = REPO / "config" / "prometheus" / "tests" / "kensho_test.yml"
DASHBOARD = REPO / "config" / "grafana" / "dashboards" / "kensho.json"
OPERATIONS = REPO / "docs" / "operations.md"
PROBES = "/health/.*|/metrics"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [r for r in _rules() if "alert" in r]


def _recorded() -> set[str]:
    return {r["record"] for r in _rules() if "record" in r}


def _panels() -> Iterator[dict[str, Any]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    yield from walk(json.loads(DASHBOARD.read_text())["panels"])


def _panel_queries() -> list[tuple[str, str]]:
    return [
        (panel.get("title", "?"), target["expr"])
        for panel in _panels()
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def test_promql_names_finds_metrics_and_skips_the_rest() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) (rate(request_duration_seconds_bucket"
        '{route!~"/health/.*|/metrics", status=~"5.."}[$__rate_interval]))) '
        "/ on (instance) group_left kensho:http_requests:rate5m > bool 0.5 "
        "and time() - max(catalog_sync_last_success_timestamp_seconds > 0) offset 5m"
    )
    assert metric_names(expr) == {
        "request_duration_seconds_bucket",
        "kensho:http_requests:rate5m",
        "catalog_sync_last_success_timestamp_seconds",
    }


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [debian_tool("promtool", "prometheus"), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = subprocess.run(
        [debian_tool("promtool", "prometheus"), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for alert in _alerts():
        mine = [c for c in cases if c["alertname"] == alert["alert"]]
        assert any(c.get("exp_alerts") for c in mine), f"{alert['alert']}: no firing case"
        assert any(not c.get("exp_alerts") for c in mine), f"{alert['alert']}: no quiet case"


def test_every_alert_has_a_runbook_entry() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in _alerts():
        link = alert["annotations"]["runbook"]
        assert link == f"docs/operations.md#{alert['alert'].lower()}", link
        assert alert["alert"].lower() in headings, f"no runbook heading for {alert['alert']}"
        assert alert["labels"]["severity"] in ("critical", "warning", "info")


def test_request_panels_and_rules_leave_probes_out() -> None:
    queries = _panel_queries() + [(r.get("record", "rule"), r["expr"]) for r in _rules()]
    for title, expr in queries:
        # `\b`: the request histogram, not `upstream_request_duration_seconds` and the like
        for selector in re.findall(r"\brequest_duration_seconds_\w+(\{[^}]*\})?", expr):
            assert f'route!~"{PROBES}' in selector, f"{title}: {expr}"


def test_cache_hit_ratio_is_a_rate_over_a_window() -> None:
    """The hit ratio since start hides a cold cache now; the panel divides rates."""
    (expr,) = [e for t, e in _panel_queries() if "hit ratio" in t.lower()]
    assert "cache_hit_ratio" not in metric_names(expr) and "rate(cache_lookups_total" in expr


def test_dashboard_covers_the_operators_questions() -> None:
    titles = " | ".join(t.lower() for t, _ in _panel_queries())
    for topic in (
        "stream",
        "sync",
        "breaker calls",
        "breaker transitions",
        "actor failures",
        "in flight",
        "rate limit",
        "hit ratio",
        "readiness",
    ):
        assert topic in titles, f"no panel about {topic}: {titles}"


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str) -> str:
    """/metrics of a real `kensho serve` (PostgreSQL, Redis, simulator, sync job, actors),
    after one API request and one readiness probe."""
    tmp = tmp_path_factory.mktemp("scrape")
    env = server_env(
        tmp, KENSHO_DATABASE_URL=database_url, KENSHO_REDIS_URL=redis_url, KENSHO_PRESTOP_DELAY="0"
    )
    log = tmp / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kensho", "serve"], stdout=out, stderr=out, env=env
        )
    try:
        base = f"http://127.0.0.1:{_wait_for_port(proc, log)}"
        for path in ("/api/anime?limit=1", "/health/ready"):
            # A 503 while the catalog loads is still a recorded request and evaluation.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(base + path, timeout=10).close()
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            text: str = resp.read().decode()
        return text
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _wait_for_port(proc: subprocess.Popen[bytes], log: Path) -> int:
    """The port from the server's `listening` line; a server that exits first fails the test
    (the search index is built after start, so no start budget can be overrun by it)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        for line in log.read_text().splitlines():
            if '"event":"listening"' in line:
                return int(json.loads(line)["port"])
        time.sleep(0.1)
    raise AssertionError(f"server did not start: {log.read_text()[-3000:]}")


def _exported(text: str) -> set[str]:
    """Every series name the scrape exposes, with the suffixes Prometheus derives by type."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    names = {"up"}  # added by Prometheus to every scrape
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {s.name for s in family.samples}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ())}
    return names


@pytest.mark.slow
def test_live_scrape_passes_promtool_check_metrics(scrape: str) -> None:
    result = subprocess.run(
        [debian_tool("promtool", "prometheus"), "check", "metrics"],
        input=scrape,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_rules_read_only_exported_series(scrape: str) -> None:
    known = _exported(scrape) | _recorded()
    for rule in _rules():
        missing = metric_names(rule["expr"]) - known
        assert not missing, f"{rule.get('alert') or rule.get('record')} reads {missing}"


@pytest.mark.slow
def test_every_panel_query_reads_exported_series(scrape: str) -> None:
    known = _exported(scrape) | _recorded()
    queries = _panel_queries()
    assert len(queries) >= 15
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: no metric found in {expr}"
        assert not names - known, f"panel {title!r} reads {names - known}"
