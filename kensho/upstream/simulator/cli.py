"""``kensho sim``: run the Crunchyroll simulator as its own process."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from aiohttp import web

from kensho.catalog.bundle import load_catalog
from kensho.observability.tracing import Tracing
from kensho.serving import serving
from kensho.upstream.simulator.app import create_sim_app
from kensho.upstream.simulator.config import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CLIENTS,
    SimConfig,
    parse_accounts,
    parse_client,
    parse_public_url,
)

__all__ = ["sim_main"]

ACCOUNTS_ENV = "KENSHO_SIM_ACCOUNTS"
OTEL_ENDPOINT_ENV = "KENSHO_OTEL_ENDPOINT"
#: `service.name` of the simulator's spans, beside Kenshō's own
SERVICE_NAME = "crunchyroll-simulator"
PUBLIC_URL_ENV = "KENSHO_SIM_PUBLIC_URL"


def sim_main(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit 2 on a bad setting (the message names it)."""
    # The same variable as `kensho serve`'s in-process simulator (Config.sim_accounts).
    extra = getattr(args, "accounts", None) or os.environ.get(ACCOUNTS_ENV, "")
    try:
        accounts = DEFAULT_ACCOUNTS + parse_accounts(extra)
    except ValueError as exc:
        print(f"kensho sim: {ACCOUNTS_ENV}: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.expires_in <= 86_400:
        print("kensho sim: --expires-in must be 1..86400 seconds", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65_535:
        print("kensho sim: --port must be 0..65535", file=sys.stderr)
        return 2
    series = getattr(args, "series", 0) or 0
    if not 0 <= series <= 1_000_000:
        print("kensho sim: --series must be 0..1000000", file=sys.stderr)
        return 2
    clients = dict(DEFAULT_CLIENTS)
    try:
        clients.update(parse_client(item) for item in getattr(args, "client", None) or [])
    except ValueError as exc:
        print(f"kensho sim: --client: {exc}", file=sys.stderr)
        return 2
    raw_public = getattr(args, "public_url", None) or os.environ.get(PUBLIC_URL_ENV) or None
    try:
        public_url = parse_public_url(raw_public) if raw_public else None
    except ValueError as exc:
        print(f"kensho sim: --public-url/{PUBLIC_URL_ENV}: {exc}", file=sys.stderr)
        return 2
    config = SimConfig(
        host=args.host,
        port=args.port,
        expires_in=args.expires_in,
        accounts=accounts,
        clients=clients,
        strict_clients=bool(getattr(args, "strict_clients", False)),
        public_url=public_url,
        seed=getattr(args, "seed", 0) or 0,
        catalog=load_catalog().head(series) if series else None,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # As `kensho serve`: traced when KENSHO_OTEL_ENDPOINT is set (instrumented before the app
    # exists), so the simulator's handlers continue the callers' traces (`traceparent`).
    tracing = Tracing(SERVICE_NAME, os.environ.get(OTEL_ENDPOINT_ENV) or None)
    tracing.instrument()
    try:
        asyncio.run(_serve(create_sim_app(config), config.host, config.port))
    finally:
        tracing.shutdown()
    return 0


async def _serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM. The first stdout line is JSON with the bound port, so a
    supervisor that asked for port 0 (the fleet tests) learns where it listens."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(app, host, port) as url:
        bound = int(url.rsplit(":", 1)[1])
        print(json.dumps({"event": "listening", "url": url, "port": bound}), flush=True)
        await stop.wait()
