"""bench/rollout.py measures the compose balancer: its HAProxy configuration is the committed
one with only the addresses changed, and HAProxy accepts it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from deploykit import debian_tool

from bench.rollout import HAPROXY_CFG, haproxy_config


def _backend(text: str) -> list[str]:
    block = text.split("\nbackend kensho", 1)[1].split("\n\n", 1)[0]
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_only_addresses_change() -> None:
    text = haproxy_config(18080, 18404, {"kensho-1": 20001, "kensho-2": 20002})
    committed = _backend(HAPROXY_CFG.read_text())
    bench = _backend(text)
    assert [line for line in committed if not line.startswith("server")] == [
        line for line in bench if not line.startswith("server")
    ]
    servers = [line for line in bench if line.startswith("server")]
    assert servers == [
        "server kensho-1 127.0.0.1:20001 check",
        "server kensho-2 127.0.0.1:20002 check",
    ]
    # default-server settings (check interval, fall, rise) apply only to servers after them.
    assert bench.index(
        next(line for line in bench if line.startswith("default-server"))
    ) < bench.index(servers[0])
    for setting in ("retries 2", "option redispatch 1", "retry-on conn-failure empty-response"):
        assert setting in text
    assert "bind 127.0.0.1:18080" in text and "resolvers" not in text


def test_haproxy_accepts_the_bench_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(18080, 18404, {"kensho-1": 20001, "kensho-2": 20002}))
    result = subprocess.run(
        [debian_tool("haproxy", "haproxy"), "-c", "-f", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not re.search(r"\[(ALERT|WARNING)\].*server", result.stderr), result.stderr


def test_the_plain_variant_forwards_each_request_once(tmp_path: Path) -> None:
    text = haproxy_config(18080, 18404, {"kensho-1": 20001}, retries=False)
    assert "retry-on" not in text and "redispatch" not in text
    assert re.search(r"^\s*retries 0$", text, re.M)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    result = subprocess.run(
        [debian_tool("haproxy", "haproxy"), "-c", "-f", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
