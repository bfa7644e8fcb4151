"""Write `.env` for docker compose from `.env.example`, filling every empty secret with a fresh one.

`make .env` runs this once; an existing `.env` is never overwritten (a new session key would make
every stored session unreadable). Usage: ``python tools/compose_env.py [--example F] [--out F]``
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]

#: How each empty variable of .env.example is filled.
GENERATORS = {
    "KENSHO_SESSION_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    "KENSHO_CURSOR_SECRET": lambda: secrets.token_urlsafe(32),
    "KENSHO_ADMIN_TOKEN": lambda: secrets.token_urlsafe(32),
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),
}


def render(example: str) -> str:
    """`example` with each empty `NAME=` line given a generated value."""
    out = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and not value.strip():
            if name.strip() not in GENERATORS:
                raise SystemExit(f"{name.strip()} is empty in the example and has no generator")
            out.append(f"{name}={GENERATORS[name.strip()]()}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--out", type=Path, default=ROOT / ".env")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} exists: keeping it (delete it to generate new secrets)")
        return 0
    args.out.write_text(render(args.example.read_text()))
    args.out.chmod(0o600)
    print(f"wrote {args.out} with fresh secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
