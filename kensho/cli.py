"""The `kensho` command: serve, sim, migrate, actors.

Each subcommand's work lives with its concept; this module parses the arguments and, for
`serve`, loads the configuration (a bad one is one line and exit 2), builds the app with the
composition root and runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from kensho.composition import build_app
from kensho.composition.parent import run_parent
from kensho.config import ConfigError, load_config, parse_workers
from kensho.http import keys
from kensho.http.admin_cli import actors_main
from kensho.http.lifecycle import WorkerRole
from kensho.http.server import EXIT_CONFIG, ParentLink, serve
from kensho.observability.logging import configure_logging, flush_logging
from kensho.store.embedded import missing_embedded
from kensho.store.migrations import migrate_main
from kensho.upstream.simulator.cli import sim_main

__all__ = ["main", "serve_main"]

log = logging.getLogger("kensho.server")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kensho", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the HTTP server (embedded defaults when unconfigured)"
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N|auto",
        help="server processes on the one port (SO_REUSEPORT), supervised by this one; "
        "auto = one per CPU (env KENSHO_WORKERS; default 1: this process serves)",
    )
    # How the parent of `--workers N` starts each worker (not for operators).
    for hidden in ("--worker-index", "--worker-count", "--ready-fd", "--parent-pid"):
        serve.add_argument(hidden, type=int, default=None, help=argparse.SUPPRESS)

    sim = sub.add_parser("sim", help="run the Crunchyroll simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--expires-in", type=int, default=300, help="access-token lifetime (s)")
    sim.add_argument(
        "--public-url",
        default=None,
        help="base of the links it hands out (env KENSHO_SIM_PUBLIC_URL); default: the caller's",
    )
    sim.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="allow-list a Basic client (repeatable; the secret may be empty)",
    )
    sim.add_argument(
        "--strict-clients",
        action="store_true",
        help="refuse clients not on the allow-list (default: any well-formed client)",
    )
    sim.add_argument(
        "--series",
        type=int,
        default=0,
        metavar="N",
        help="serve only the N most popular series (0 = the whole catalog; small fleets in tests)",
    )

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--status", action="store_true", help="list migrations and their state")

    act = sub.add_parser("actors", help="print the actor table of a running server")
    act.add_argument("--url", default=None, help="server base URL (default from KENSHO_HOST/PORT)")
    return parser


def _workers(text: str) -> int:
    try:
        return parse_workers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def serve_main(args: argparse.Namespace) -> int:
    """`kensho serve`; returns the process exit status.

    One worker: this process serves. More: this process is their parent (`run_parent`). With
    the hidden `--worker-*` arguments: this process is one of a parent's workers.
    """
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"kensho: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if (missing := missing_embedded(config)) is not None:
        print(f"kensho: {missing}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        role, parent = _worker_role(args)
    except ValueError as exc:
        print(f"kensho: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    count = args.workers if args.workers is not None else parse_workers(config.workers)
    # A parent and its workers write to one stderr: keep their lines whole.
    shared = role is not None or count > 1
    configure_logging(config.log_level, config.log_format, queued=True, shared=shared)
    try:
        if role is None and count > 1:
            log.info(
                "starting %d workers",
                count,
                extra={"event": "starting", "workers": count, "config": config.redacted()},
            )
            return asyncio.run(run_parent(config, count))
        log.info("starting", extra={"event": "starting", "config": config.redacted()})
        app = build_app(config)
        if role is not None:
            app[keys.LIFECYCLE].worker = role
        return asyncio.run(serve(config, app, parent))
    finally:
        flush_logging()


def _worker_role(args: argparse.Namespace) -> tuple[WorkerRole | None, ParentLink | None]:
    """The role the parent gave this process on its command line; (None, None) if none."""
    given = [
        getattr(args, k, None) for k in ("worker_index", "worker_count", "ready_fd", "parent_pid")
    ]
    if all(v is None for v in given):
        return None, None
    if any(v is None for v in given) or not 0 <= args.worker_index < args.worker_count:
        raise ValueError("--worker-* arguments are for the parent of --workers N only")
    role = WorkerRole(index=args.worker_index, count=args.worker_count, supervised=True)
    return role, ParentLink(ready_fd=args.ready_fd, parent_pid=args.parent_pid)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return serve_main(args)
    if args.command == "sim":
        return sim_main(args)
    if args.command == "migrate":
        return migrate_main(args)
    if args.command == "actors":
        return actors_main(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse allows no other command


if __name__ == "__main__":  # pragma: no cover - `python -m kensho.cli`
    sys.exit(main())
