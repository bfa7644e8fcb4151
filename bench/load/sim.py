"""`python -m bench.load.sim --port P [--series N]`: the simulator in its own process, serving
the first N series of the bundled catalog (0 = all), with the demo accounts plus
`KENSHO_SIM_ACCOUNTS`. A small catalog makes the CI smoke run's catalog sync take seconds."""

from __future__ import annotations

import argparse
import asyncio
import os
from types import MappingProxyType

from kensho.catalog import load_catalog
from kensho.catalog.bundle import Catalog
from kensho.upstream.simulator.app import running_simulator
from kensho.upstream.simulator.config import DEFAULT_ACCOUNTS, SimConfig, parse_accounts


async def _serve(port: int, series: int) -> None:
    catalog = load_catalog()
    if series:
        entries = catalog.entries[:series]
        catalog = Catalog(
            catalog.version, entries, MappingProxyType({e.series_id: e for e in entries})
        )
    extra = parse_accounts(os.environ.get("KENSHO_SIM_ACCOUNTS", ""))
    config = SimConfig(
        host="127.0.0.1", port=port, catalog=catalog, accounts=DEFAULT_ACCOUNTS + extra
    )
    async with running_simulator(config) as url:
        print(f"simulator listening on {url}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--series", type=int, default=0, help="first N series only (0 = all)")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.series))


if __name__ == "__main__":
    main()
