"""`kensho actors` against a real server socket."""

from __future__ import annotations

import argparse
import asyncio
import io
import os

import pytest
from httpkit import TOKEN, MakeClient

from kensho.http import keys
from kensho.http.admin_cli import actors_main
from kensho.http.lifecycle import WorkerRole


async def test_prints_actor_table(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client(admin_token=TOKEN)
    monkeypatch.setenv("KENSHO_ADMIN_TOKEN", TOKEN)
    out = io.StringIO()
    args = argparse.Namespace(url=str(client.make_url("")))
    assert await asyncio.to_thread(actors_main, args, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATE",
        "MAILBOX",
        "PROCESSED",
        "FAILED",
        "RESTARTS",
        "P99_MS",
        "UPTIME_S",
    ]
    assert lines[1].split() == ["cache", "running", "2", "5", "1", "0", "0.090", "1.5"]
    assert lines[2].split()[0] == "breaker"


async def test_wrong_token_is_reported(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await make_client(admin_token=TOKEN)
    monkeypatch.setenv("KENSHO_ADMIN_TOKEN", "nope")
    args = argparse.Namespace(url=str(client.make_url("")))
    assert await asyncio.to_thread(actors_main, args, io.StringIO()) == 1
    assert "token was rejected" in capsys.readouterr().err


def test_missing_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KENSHO_ADMIN_TOKEN", raising=False)
    assert actors_main(argparse.Namespace(url="http://127.0.0.1:9"), io.StringIO()) == 2
    assert "KENSHO_ADMIN_TOKEN" in capsys.readouterr().err


def test_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KENSHO_ADMIN_TOKEN", TOKEN)
    assert actors_main(argparse.Namespace(url="http://127.0.0.1:9"), io.StringIO()) == 1
    assert "cannot reach" in capsys.readouterr().err


async def test_names_the_worker_under_workers_n(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(admin_token=TOKEN)
    client.server.app[keys.LIFECYCLE].worker = WorkerRole(index=1, count=2, supervised=True)
    monkeypatch.setenv("KENSHO_ADMIN_TOKEN", TOKEN)
    out = io.StringIO()
    args = argparse.Namespace(url=str(client.make_url("")))
    assert await asyncio.to_thread(actors_main, args, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"worker 1 of 2 (pid {os.getpid()})"
    assert lines[1].split()[0] == "NAME"
