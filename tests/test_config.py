"""Bad configuration stops `kensho serve` with one clear line on stderr and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kensho.composition.upstream import simulator_config
from kensho.config import MAX_WORKERS, ConfigError, available_cpus, load_config, parse_workers


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
    return subprocess.run(
        [sys.executable, "-m", "kensho", "serve"],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KENSHO_PORT": "eighty"}, "KENSHO_PORT='eighty' is invalid: expected an integer"),
        ({"KENSHO_PORT": "70000"}, "KENSHO_PORT='70000' is out of range: allowed 0..65535"),
        ({"KENSHO_PROT": "8080"}, "KENSHO_PROT is not a Kenshō setting; did you mean KENSHO_PORT?"),
        ({"KENSHO_LOG_LEVEL": "LOUD"}, "allowed values are DEBUG, INFO, WARNING, ERROR"),
        ({"KENSHO_REQUEST_TIMEOUT": "nan"}, "KENSHO_REQUEST_TIMEOUT='nan' is invalid"),
    ],
)
def test_bad_env_is_one_clear_line(env: dict[str, str], expected: str) -> None:
    proc = _serve(env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert proc.stdout == ""


def test_secret_value_is_not_echoed() -> None:
    proc = _serve({"KENSHO_ADMIN_TOKEN": "", "KENSHO_DATABASE_URL": "hunter2-not-a-url"})
    assert proc.returncode == 2
    assert "hunter2" not in proc.stderr
    assert "KENSHO_DATABASE_URL" in proc.stderr


def test_toml_unknown_key_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "kensho.toml"
    path.write_text("[kensho]\nprot = 8080\n", encoding="utf-8")
    proc = _serve({"KENSHO_CONFIG": str(path)})
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "unknown key 'prot'; did you mean port?" in line


def test_toml_syntax_error_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "kensho.toml"
    path.write_text("[kensho\nport = = 1\n", encoding="utf-8")
    proc = _serve({"KENSHO_CONFIG": str(path)})
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "is not valid TOML" in line


def test_toml_values_load_and_env_wins(tmp_path: Path) -> None:
    path = tmp_path / "kensho.toml"
    path.write_text('[kensho]\nport = 9001\nprestop_delay = 0.5\nlog_level = "debug"\n', "utf-8")
    config = load_config({"KENSHO_CONFIG": str(path), "KENSHO_PORT": "9002"})
    assert config.port == 9002
    assert config.prestop_delay == 0.5
    assert config.log_level == "DEBUG"
    with pytest.raises(ConfigError, match="KENSHO_PRESTOP_DELAY"):
        path.write_text("[kensho]\nprestop_delay = -1\n", "utf-8")
        load_config({"KENSHO_CONFIG": str(path)})


def test_sim_accounts_are_a_setting_validated_at_load() -> None:

    config = load_config({"KENSHO_SIM_ACCOUNTS": "ops@kensho.dev:s3cret:free:JP"})
    sim = simulator_config(config)
    assert [a.email for a in sim.accounts][-1] == "ops@kensho.dev"
    assert {"demo@kensho.dev", "free@kensho.dev"} <= {a.email for a in sim.accounts}
    assert sim.port == config.sim_port == 8091

    for bad in ("no-at-sign:hunter2:premium", "x@y.z:hunter2:gold", "x@y.z::premium"):
        with pytest.raises(ConfigError, match=r"^KENSHO_SIM_ACCOUNTS is invalid: ") as caught:
            load_config({"KENSHO_SIM_ACCOUNTS": bad})
        assert "\n" not in str(caught.value) and "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "count"), [("1", 1), ("2", 2), (" 3 ", 3), ("256", 256), ("AUTO", None), (4, 4)]
)
def test_workers_count_or_auto(text: str | int, count: int | None) -> None:
    expected = count if count is not None else min(MAX_WORKERS, available_cpus())
    assert parse_workers(text) == expected
    assert load_config({"KENSHO_WORKERS": str(text)}).workers == str(text)


@pytest.mark.parametrize(
    "bad",
    ["0", "-1", "257", "1.5", "two", "0x2", "1e2", "２", "9" * 40, "auto;rm -rf /", "1 2", "+2"],
)
def test_bad_workers_setting_is_refused(bad: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^KENSHO_WORKERS='.*' is invalid: expected a count"
    ) as e:
        load_config({"KENSHO_WORKERS": bad})
    assert "\n" not in str(e.value) and len(str(e.value)) < 200
    with pytest.raises(ConfigError, match="KENSHO_WORKERS is empty"):
        load_config({"KENSHO_WORKERS": ""})


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--workers", "0"], {}, "argument --workers: '0' is invalid: expected a count 1..256"),
        (["--workers", "lots"], {}, "argument --workers: 'lots' is invalid"),
        (["--workers"], {}, "argument --workers: expected one argument"),
        ([], {"KENSHO_WORKERS": "-3"}, "KENSHO_WORKERS='-3' is invalid: expected a count"),
    ],
)
def test_bad_workers_value_stops_serve_with_exit_2(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
    proc = subprocess.run(
        [sys.executable, "-m", "kensho", "serve", *args],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert expected in proc.stderr.strip().splitlines()[-1]
    assert proc.stdout == ""


def test_worker_arguments_alone_are_refused() -> None:
    """The parent's hidden `--worker-*` arguments come as a set, with a valid index."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
    for args in (
        ["--worker-index", "0"],
        ["--worker-index", "3", "--worker-count", "2", "--ready-fd", "1", "--parent-pid", "1"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "kensho", "serve", *args],
            env=base,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2
        assert "for the parent of --workers N only" in proc.stderr
