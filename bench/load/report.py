"""`python -m bench.load.report [DATA_DIR]` (`make load-report`): `docs/load-report.md` and its
PNG plots from a chaos run's data (`bench.chaos` writes `docs/load-report/data`): Locust's CSV
history, the request events and the `/metrics` scrapes. Hand-written findings live in
`bench/load/report_notes.md` and are carried into the report as they are.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.load.analysis import Window, classify, is_failure, summarise

__all__ = ["render"]

ROOT = Path(__file__).resolve().parents[2]
NOTES = Path(__file__).with_name("report_notes.md")
P95_TARGET_MS = 200.0
ERROR_TARGET = 0.01
MIN_REQUESTS = 20  # endpoints with fewer requests in the baseline are listed, not judged
TRUSTED = "yes (the limit is keyed on X-Forwarded-For)"
UNTRUSTED = (
    "no (the limit is keyed on the peer, which behind HAProxy is HAProxy: the abusive clients go"
    " to the replicas directly, each from its own loopback address)"
)
COLOURS = {
    "upstream": "#d62728",
    "redis": "#9467bd",
    "postgres": "#8c564b",
    "actors": "#e377c2",
    "rolling": "#1f77b4",
}


def _load(
    data: Path,
) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, Any]], list[dict[str, Any]]]:
    run = json.loads((data / "run.json").read_text())
    plain = data / "locust_stats_history.csv"
    with (
        plain.open(newline="")
        if plain.exists()
        else gzip.open(data / "locust_stats_history.csv.gz", "rt", newline="")
    ) as f:
        history = list(csv.DictReader(f))
    with gzip.open(data / "events.jsonl.gz", "rt", encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    scrapes = json.loads((data / "scrapes.json").read_text())
    times = run.get("times")
    if times:  # the analysis again, from the raw data: its improvements redraw an old run
        windows = [Window(**w) for w in run["windows"]]
        run |= summarise(
            events,
            windows,
            scrapes,
            times["load_start"],
            times["baseline_end"],
            times["load_end"],
            warmup=times["warmup"],
        )
    return run, history, events, scrapes


def _shade(ax: Any, windows: list[Window], t0: float, label: bool = True) -> None:
    for w in windows:
        colour = COLOURS.get(w.kind, "grey")
        ax.axvspan(w.start - t0, w.end - t0, color=colour, alpha=0.22, lw=0)
        ax.axvspan(w.end - t0, w.until - t0, color=colour, alpha=0.08, lw=0)
        if label:
            ax.text(
                w.start - t0,
                1.0,
                w.name,
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                va="bottom",
                ha="left",
                rotation=20,
                color=colour,
            )


def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _plots(
    run: dict[str, Any],
    history: list[dict[str, str]],
    events: list[dict[str, Any]],
    scrapes: list[dict[str, Any]],
    out: Path,
) -> list[tuple[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    windows = [Window(**w) for w in run["windows"]]
    agg = [r for r in history if r["Name"] == "Aggregated"]
    t0 = float(agg[0]["Timestamp"]) if agg else float(events[0]["t"])
    made = []

    fig, ax = plt.subplots(figsize=(11, 4))
    for col, style in (("50%", "-"), ("95%", "-"), ("99%", ":")):
        raw = [(float(r["Timestamp"]) - t0, _num(r[col])) for r in agg]
        pts = [(t, v) for t, v in raw if v is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"p{col[:-1]}", lw=1)
    ax.axhline(P95_TARGET_MS, color="k", lw=0.6, ls="--", label="200 ms target")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("latency, ms (Locust, 10 s window)")
    _shade(ax, windows, t0)
    ax.legend(loc="upper left", fontsize=8)
    made.append(_save(fig, out / "latency.png", "Latency percentiles over time (every request)"))

    fig, ax = plt.subplots(figsize=(11, 3.5))
    ax.plot(
        [float(r["Timestamp"]) - t0 for r in agg],
        [float(r["Requests/s"]) for r in agg],
        label="requests/s",
        lw=1,
    )
    ax.plot(
        [float(r["Timestamp"]) - t0 for r in agg],
        [float(r["Failures/s"]) for r in agg],
        label="failures/s",
        lw=1,
        color="#d62728",
    )
    ax2 = ax.twinx()
    ax2.plot(
        [float(r["Timestamp"]) - t0 for r in agg],
        [int(r["User Count"]) for r in agg],
        color="grey",
        lw=0.8,
        ls="--",
        label="users",
    )
    ax2.set_ylabel("users")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("per second")
    _shade(ax, windows, t0)
    ax.legend(loc="upper left", fontsize=8)
    made.append(_save(fig, out / "throughput.png", "Throughput and failures (Locust)"))

    bins: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    for e in events:
        if is_failure(e) and not str(e["name"]).startswith("["):
            kind = classify(e, windows)
            bins[(kind, str(e["status"]))][int((float(e["t"]) - t0) // 5)] += 1
    fig, ax = plt.subplots(figsize=(11, 3.5))
    if bins:
        last = max(max(c) for c in bins.values()) + 1
        xs = [i * 5 for i in range(last)]
        bottom = [0] * last
        for (kind, status), counts in sorted(bins.items()):
            ys = [counts.get(i, 0) for i in range(last)]
            ax.bar(
                xs,
                ys,
                width=5,
                bottom=bottom,
                align="edge",
                label=f"{kind} {status or 'none'}",
                hatch="" if kind == "unexpected" else "//",
                alpha=0.8,
            )
            bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("failed requests per 5 s")
    _shade(ax, windows, t0)
    made.append(
        _save(
            fig, out / "errors.png", "Failed requests by status: documented (hatched) vs unexpected"
        )
    )

    fig, ax = plt.subplots(figsize=(11, 3))
    cache = _cache_series(scrapes, t0)
    ax.plot([p[0] for p in cache], [p[1] for p in cache], lw=1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("cache hit ratio (L1+L2)")
    _shade(ax, windows, t0)
    made.append(
        _save(fig, out / "cache.png", "Cache hit ratio over time (every replica, 10 s bins)")
    )

    clients = run["rate_limit_by_client"]
    fig, ax = plt.subplots(figsize=(8, 3))
    names = sorted(clients)
    admitted = [clients[n]["admitted"] for n in names]
    limited = [clients[n]["limited"] for n in names]
    ax.barh(names, admitted, label="admitted", color="#2ca02c")
    ax.barh(names, limited, left=admitted, label="429 rate-limited", color="#ff7f0e")
    ax.set_xlabel("requests")
    ax.legend(fontsize=8)
    made.append(_save(fig, out / "ratelimit.png", "Rate-limit outcomes per client"))
    return made


def _cache_series(scrapes: list[dict[str, Any]], t0: float) -> list[tuple[float, float]]:
    last: dict[str, dict[str, float]] = {}
    bins: dict[int, Counter[str]] = defaultdict(Counter)
    for r in scrapes:
        if not r.get("up"):
            continue
        now, before = r.get("cache") or {}, last.get(r["replica"])
        if before is not None:
            for tier, value in now.items():
                prev = before.get(tier, 0.0)
                bins[int((r["t"] - t0) // 10)][tier] += value - prev if value >= prev else value
        last[r["replica"]] = now
    out: list[tuple[float, float]] = []
    for b in sorted(bins):
        total = sum(bins[b].values())
        if total:
            out.append((b * 10 + 5, (bins[b]["l1"] + bins[b]["l2"]) / total))
    return out


def _save(fig: Any, path: Path, title: str) -> tuple[str, str]:
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return title, path.name


def criteria(run: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(criterion, measured, pass) against the seed's success criteria."""
    phases = {p["name"]: p for p in run["phases"]}
    base = phases["baseline"]
    judged = {n: e for n, e in base["endpoints"].items() if e["requests"] >= MIN_REQUESTS}
    worst = max(judged.items(), key=lambda kv: kv[1]["p95_ms"], default=("none", {"p95_ms": 0}))
    rows = [
        (
            f"p95 < {P95_TARGET_MS:.0f} ms per endpoint (normal load: the baseline phase, endpoints"
            f" with ≥ {MIN_REQUESTS} requests)",
            f"worst {worst[0]}: {worst[1]['p95_ms']} ms ({len(judged)} endpoints)",
            bool(judged) and all(e["p95_ms"] < P95_TARGET_MS for e in judged.values()),
        ),
        (
            "< 1 % errors at normal load (baseline)",
            f"{base['error_rate']:.2%} ({base['failed']} of {base['requests']})",
            base["error_rate"] < ERROR_TARGET,
        ),
    ]
    faults = [p for p in run["phases"] if p["kind"] != "none"]
    slow = [p["name"] for p in faults if p["recovery_s"] is None]
    worst_rec = max((p["recovery_s"] or 0 for p in faults), default=0)
    rows.append(
        (
            "automatic recovery after every fault (no operator action)",
            "not recovered: " + ", ".join(slow)
            if slow
            else f"every phase; slowest {worst_rec} s after the fault ended",
            not slow,
        )
    )
    rolling = phases.get("rolling")
    if rolling is not None:
        note = run["notes"].get("rolling", {})
        rows.append(
            (
                "zero failed requests in a rolling restart",
                f"{rolling['failed']} failed, {rolling['unanswered']} unanswered of"
                f" {rolling['requests']}; sessions valid after: {note.get('sessions_after')}/"
                f"{note.get('sessions_before')}",
                rolling["failed"] == 0
                and note.get("sessions_after") == note.get("sessions_before"),
            )
        )
    total = run["total"]
    outside = sum(p["unexpected"] for p in run["phases"])
    rows.append(
        (
            "nothing lost: every request answered, no catalog row lost",
            f"{total['unanswered']} unanswered; rows lost: {run['catalog_rows']['lost'] or 'none'}",
            total["unanswered"] == 0 and not run["catalog_rows"]["lost"],
        )
    )
    rows.append(
        (
            "no unexpected failure (outside the documented behaviour of a fault)",
            f"{outside} unexpected of {total['requests']}",
            outside == 0,
        )
    )
    return rows


def _markdown(run: dict[str, Any], plots: list[tuple[str, str]]) -> str:
    m, s, plan = run["machine"], run["stack"], run["plan"]
    lines = [
        "# Load and chaos report",
        "",
        "Generated by `make load-report` (`python -m bench.load.report`) from the data of the last",
        "`make chaos` run in `docs/load-report/data/`; do not edit by hand: findings go in",
        "`bench/load/report_notes.md`, which is carried in below.",
        "",
        f"- **Date**: {run['date']}; **machine**: {m['cpus']} × {m['model']}, {m['memory_gb']} GB,"
        f" Python {m['python']}, load average {m['load_avg_at_start']:.1f} at the start (the"
        " machine is shared with other work).",
        f"- **Stack**: {s['replicas']} `kensho serve` replicas behind HAProxy (compose"
        f" configuration), PostgreSQL (scratch database), a Redis of its own, the simulator in its"
        f" own process; catalog: {s['catalog_series']} series; rate limit {s['rate_limit'][0]:g}"
        f" req/s, burst {s['rate_limit'][1]} per client; trusted proxies:"
        f" {TRUSTED if s['trusted_proxies'] else UNTRUSTED}.",
        f"- **Load**: Locust, steady shape, {plan['users']} users (weights in"
        " `bench/load/users.py`), Zipf-distributed ids; baseline"
        f" {plan['baseline']:g} s, each fault {plan['fault']:g} s then {plan['recover']:g} s of"
        " recovery.",
        "",
        "## Against the success criteria",
        "",
        "| criterion | measured | result |",
        "|---|---|---|",
    ]
    for name, measured, ok in criteria(run):
        lines.append(f"| {name} | {measured} | {'pass' if ok else '**FAIL**'} |")
    lines += [
        "",
        "## Phases",
        "",
        "A phase runs from its fault's start to the next fault's start (its recovery window"
        " included). *Documented* failures are the answers the fault's documentation promises"
        " (problem+json 502/503/504 while the upstream is faulty, 503 while an actor restarts);"
        " *unexpected* is everything else, including requests left without an answer. A GET"
        " whose reused keep-alive connection the balancer closed as it was sent is retried once"
        " by the client, as browsers do; those retries are counted in brackets.",
        "",
        "| phase | requests | req/s | documented | unexpected | failed by status"
        " | unanswered (GETs retried) | 429s (normal / abusive) | breaker | cache hit | worst p95"
        " | recovery |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in run["phases"]:
        worst = max(
            p["endpoints"].items(), key=lambda kv: kv[1]["p95_ms"], default=("-", {"p95_ms": 0})
        )
        rec = (
            "n/a"
            if p["kind"] == "none"
            else ("**not recovered**" if p["recovery_s"] is None else f"{p['recovery_s']} s")
        )
        ratio = "-" if p["cache_hit_ratio"] is None else f"{p['cache_hit_ratio']:.1%}"
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(p["failures_by_status"].items()))
        lines.append(
            f"| {p['name']} | {p['requests']} | {p['rps']} | {p['documented']} |"
            f" {p['unexpected']} | {statuses or '-'} | {p['unanswered']}"
            f" ({p.get('client_retries', 0)}) |"
            f" {p['http_429']} / {p['abuse_429']} | {' → '.join(p['breaker']) or '-'} | {ratio} |"
            f" {worst[1]['p95_ms']} ms ({worst[0]}) | {rec} |"
        )
    lines += ["", "## Latency per endpoint (ms)", ""]
    names = sorted({n for p in run["phases"] for n in p["endpoints"]})
    header = "| endpoint | " + " | ".join(p["name"] for p in run["phases"]) + " |"
    lines += [header, "|---" * (len(run["phases"]) + 1) + "|"]
    for name in names:
        cells = []
        for p in run["phases"]:
            e = p["endpoints"].get(name)
            cells.append(
                f"{e['p50_ms']:g} / {e['p95_ms']:g} / {e['p99_ms']:g} ({e['requests']})"
                if e
                else "-"
            )
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "Cells: p50 / p95 / p99 (requests).", "", "## Faults", ""]
    for w in run["windows"]:
        detail = {k: v for k, v in w["detail"].items() if k != "recovery_s"}
        lines.append(
            f"- **{w['name']}** ({w['end'] - w['start']:.1f} s):"
            f" {json.dumps(detail) if detail else 'see the phase table'}"
        )
    if run["replica_restarts"]:
        lines.append(
            f"- Replicas restarted by the orchestrator: {json.dumps(run['replica_restarts'])}"
        )
    rows = run["catalog_rows"]
    lines += [
        "",
        f"Catalog rows before: {json.dumps(rows['before'])}; after: {json.dumps(rows['after'])}.",
        "",
        "## Rate limiting per client",
        "",
        "| client | admitted | 429 | other |",
        "|---|---|---|---|",
    ]
    for client, c in sorted(run["rate_limit_by_client"].items()):
        lines.append(f"| {client} | {c['admitted']} | {c['limited']} | {c['other']} |")
    lines += ["", "## Plots", ""]
    for title, name in plots:
        lines += [f"### {title}", "", f"![{title}](load-report/{name})", ""]
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines) + "\n"


def render(data: Path, docs: Path) -> Path:
    """Write the plots to `docs/load-report/` and the report to `docs/load-report.md`."""
    run, history, events, scrapes = _load(data)
    plots = _plots(run, history, events, scrapes, docs / "load-report")
    path = docs / "load-report.md"
    path.write_text(_markdown(run, plots))
    return path


def main(argv: list[str]) -> int:
    data = Path(argv[0]) if argv else ROOT / "docs" / "load-report" / "data"
    print(render(data, ROOT / "docs"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
