"""`kensho actors`: print the actor table of a running server from GET /admin/actors.

A plain blocking client (urllib): the command does one request and exits, no event loop needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from kensho.config import ConfigError, load_config

__all__ = ["actors_main", "format_table"]

_COLUMNS = ("NAME", "STATE", "MAILBOX", "PROCESSED", "FAILED", "RESTARTS", "P99_MS", "UPTIME_S")


def _rows(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    for child in node.get("children") or ():
        name = f"{prefix}{child.get('name', '?')}"
        if child.get("kind") == "supervisor" or "children" in child:
            yield (
                name + "/",
                str(child.get("state", "")),
                "",
                "",
                "",
                str(child.get("restarts", 0)),
                "",
                "",
            )
            yield from _rows(child, prefix=name + "/")
            continue
        p99 = (child.get("processing_us") or {}).get("p99")
        yield (
            name,
            str(child.get("state", "")),
            str(child.get("mailbox_depth", "")),
            str(child.get("processed", "")),
            str(child.get("failed", "")),
            str(child.get("restarts", "")),
            f"{p99 / 1000:.3f}" if isinstance(p99, int | float) else "",
            str(child.get("uptime_s", "")),
        )


def format_table(tree: Mapping[str, Any]) -> str:
    """Fixed-width table of every actor under the root, supervisors marked with a slash."""
    rows = [_COLUMNS, *_rows(tree)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def actors_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Fetch /admin/actors with KENSHO_ADMIN_TOKEN and print the table; non-zero on failure."""
    out = out or sys.stdout
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"kensho: {exc}", file=sys.stderr)
        return 2
    token = config.admin_token or os.environ.get("KENSHO_ADMIN_TOKEN")
    if not token:
        print("kensho actors: set KENSHO_ADMIN_TOKEN to the server's admin token", file=sys.stderr)
        return 2
    base = (getattr(args, "url", None) or f"http://{config.host}:{config.port}").rstrip("/")
    req = urllib.request.Request(
        base + "/admin/actors", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = json.load(resp)
    except urllib.error.HTTPError as exc:
        why = {401: "the admin token was rejected", 404: "admin routes are disabled there"}
        print(f"kensho actors: {base}: {why.get(exc.code, f'HTTP {exc.code}')}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"kensho actors: cannot reach {base}: {exc}", file=sys.stderr)
        return 1
    if isinstance(worker := doc.get("worker"), dict) and worker.get("count", 1) > 1:
        # `--workers N`: each request reaches one worker; say which one this table is.
        print(
            f"worker {worker.get('index')} of {worker.get('count')} (pid {worker.get('pid')})",
            file=out,
        )
    print(format_table(doc["tree"]), file=out)
    return 0
