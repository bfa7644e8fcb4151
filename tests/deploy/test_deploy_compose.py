"""docker-compose.yml: valid for Docker Compose (the real CLI parses and interpolates it against
the compose-spec schema; no daemon needed), and the stack an operator gets holds together:
healthchecks, start order, secrets, volumes, the balancer and Prometheus pointing at the
replicas, the simulator's public URL, and a stop grace period that covers the drain.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploykit import REPO, debian_tool, venv_tool

from kensho.actors.tree import build_root
from kensho.config import load_config

COMPOSE = REPO / "docker-compose.yml"
HAPROXY_CFG = REPO / "config" / "haproxy" / "haproxy.cfg"
PROMETHEUS_CFG = REPO / "config" / "prometheus.yml"


def _compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            venv_tool("docker-compose"),
            *("--project-directory", str(REPO), "--file", str(COMPOSE)),
            *("--env-file", str(env_file), *args),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)},
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """.env as `make .env` writes it (tools/compose_env.py, fresh secrets)."""
    out = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "compose_env.py"), "--out", str(out)], check=True
    )
    return out


@pytest.fixture(scope="module")
def stack(env_file: Path) -> dict[str, Any]:
    result = _compose(env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _seconds(duration: str) -> float:
    """A Compose duration as `config` prints it ("1m15s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def _kensho_replicas(stack: dict[str, Any]) -> dict[str, Any]:
    return {n: s for n, s in stack["services"].items() if s.get("command") == ["serve"]}


def test_compose_validates_with_the_generated_env(env_file: Path) -> None:
    result = _compose(env_file, "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_without_secrets_compose_refuses_and_names_them(tmp_path: Path) -> None:
    example = tmp_path / ".env"
    example.write_text((REPO / ".env.example").read_text())
    result = _compose(example, "config", "--quiet")
    assert result.returncode != 0
    for name in ("POSTGRES_PASSWORD", "KENSHO_SESSION_ENCRYPTION_KEY", "KENSHO_CURSOR_SECRET"):
        assert f"required variable {name} is missing a value" in result.stderr


def test_a_broken_compose_file_is_rejected(tmp_path: Path, env_file: Path) -> None:
    """The validator checks the schema: a misspelt service key fails."""
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [venv_tool("docker-compose"), "--file", str(path), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "helthcheck" in result.stderr


def test_every_long_running_service_has_a_healthcheck(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        if service.get("restart") == "no":  # one-shot (migrate): completion is its health
            continue
        check = service.get("healthcheck", {})
        assert not check.get("disable") and check.get("test"), f"{name} has no healthcheck"


def test_start_order_waits_for_health_not_for_start(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        for dep, how in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dep == "migrate" else "service_healthy"
            assert how["condition"] == expected, f"{name} -> {dep}: {how['condition']}"
    replicas = _kensho_replicas(stack)
    assert len(replicas) == 2
    for service in replicas.values():
        assert {"postgres", "redis", "simulator", "migrate"} <= set(service["depends_on"])
    assert stack["services"]["migrate"]["command"] == ["migrate"]


def test_replicas_share_secrets_and_settings_the_server_accepts(stack: dict[str, Any]) -> None:
    replicas = list(_kensho_replicas(stack).values())
    envs = [r["environment"] for r in replicas]
    assert envs[0] == envs[1], "replicas must agree on every setting, secrets above all"
    config = load_config(environ=envs[0])
    assert config.session_encryption_key and config.cursor_secret and config.admin_token
    assert (
        config.database_url and config.redis_url and config.upstream_url == "http://simulator:8090"
    )


def test_grace_period_covers_the_drain(stack: dict[str, Any]) -> None:
    for service in _kensho_replicas(stack).values():
        config = load_config(environ=service["environment"])
        actors = sum(spec.shutdown_timeout for spec in build_root(config).child_specs)
        budget = config.prestop_delay + 2 * config.shutdown_timeout + actors
        assert config.prestop_delay >= 2, "HAProxy needs two failed checks (1 s apart)"
        assert _seconds(service["stop_grace_period"]) > budget


def test_named_volumes_hold_postgres_and_each_data_dir(stack: dict[str, Any]) -> None:
    def named(service: dict[str, Any], target: str) -> str:
        (vol,) = [v for v in service["volumes"] if v["target"] == target]
        assert vol["type"] == "volume", vol
        return str(vol["source"])

    assert named(stack["services"]["postgres"], "/var/lib/postgresql/data") in stack["volumes"]
    sources = {named(s, "/var/lib/kensho") for s in _kensho_replicas(stack).values()}
    assert len(sources) == 2 and sources <= set(stack["volumes"])


def test_app_containers_run_read_only_without_capabilities(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        if service.get("image") == "kensho:local":
            assert service["read_only"] is True, name
            assert service["cap_drop"] == ["ALL"], name
            assert "no-new-privileges:true" in service["security_opt"], name


def test_simulator_links_use_a_public_url_the_host_can_reach(stack: dict[str, Any]) -> None:
    sim = stack["services"]["simulator"]
    public = sim["environment"]["KENSHO_SIM_PUBLIC_URL"]
    published = {str(p["published"]) for p in sim["ports"] if p["target"] == 8090}
    assert public == "http://localhost:8090" and published == {"8090"}


def test_haproxy_balances_the_replicas_on_readiness(stack: dict[str, Any]) -> None:
    text = HAPROXY_CFG.read_text()
    servers = set(re.findall(r"^\s*server (\S+) (\S+):8080 check", text, re.M))
    assert servers == {(n, n) for n in _kensho_replicas(stack)}
    assert re.search(r"http-check send meth GET uri /health/ready\b", text)
    assert "http-check expect status 200" in text
    lb = stack["services"]["haproxy"]
    assert {v["target"] for v in lb["volumes"]} == {"/usr/local/etc/haproxy/haproxy.cfg"}


def test_haproxy_accepts_its_configuration() -> None:
    haproxy = debian_tool("haproxy", "haproxy")
    result = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # The replicas' names resolve only inside the compose network.
    warnings = [line for line in result.stderr.splitlines() if "[WARNING]" in line]
    assert all("could not resolve address 'kensho-" in line for line in warnings), warnings


def test_prometheus_scrapes_the_replicas_and_loads_the_rules(stack: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS_CFG.read_text())
    (job,) = config["scrape_configs"]
    targets = set(job["static_configs"][0]["targets"])
    assert targets == {f"{n}:8080" for n in _kensho_replicas(stack)}
    mounts = {v["target"]: v["source"] for v in stack["services"]["prometheus"]["volumes"]}
    (pattern,) = config["rule_files"]
    rules_dir = Path(mounts[str(Path(pattern).parent)])
    assert sorted(rules_dir.glob(Path(pattern).name)), f"no rule files in {rules_dir}"


def test_make_env_fills_every_secret_once_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / ".env"
    tool = [sys.executable, str(REPO / "tools" / "compose_env.py"), "--out", str(out)]
    subprocess.run(tool, check=True, capture_output=True)
    first = out.read_text()
    values = dict(
        line.split("=", 1)
        for line in first.splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert all(values.values()), values
    assert out.stat().st_mode & 0o077 == 0  # secrets: owner only
    subprocess.run(tool, check=True, capture_output=True)
    assert out.read_text() == first  # a second run keeps the session key
