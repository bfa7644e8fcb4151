"""The `kensho` command: serve, sim, migrate, actors.

Each subcommand lives with its concept and is imported lazily, so `kensho sim` does not import
the database drivers and a bad configuration is reported before anything heavy loads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kensho", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the HTTP server (embedded defaults when unconfigured)")

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

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--status", action="store_true", help="list migrations and their state")

    act = sub.add_parser("actors", help="print the actor table of a running server")
    act.add_argument("--url", default=None, help="server base URL (default from KENSHO_HOST/PORT)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        from kensho.http.server import serve_main

        return serve_main(args)
    if args.command == "sim":
        from kensho.upstream.simulator.cli import sim_main

        return sim_main(args)
    if args.command == "migrate":
        from kensho.store.migrations import migrate_main

        return migrate_main(args)
    if args.command == "actors":
        from kensho.http.admin_cli import actors_main

        return actors_main(args)
    raise AssertionError(args.command)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
