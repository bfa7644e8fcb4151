"""Upstream tokens at rest: sealed with Fernet, unreadable rows are 401s, keys persist safely."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet

import kensho.auth.crypto as crypto_module
from auth.kit import DEMO, bearer, episodes, stored_token
from kensho.actors.session_pool import LookupSession
from kensho.auth.crypto import KEY_FILE, SessionCipher, UndecryptableRecord, load_session_cipher
from kensho.composition.services import child_handle
from kensho.config import Config, ConfigError
from kensho.http.keys import AUTH
from kensho.store.pool import execute, fetch_one
from kensho.upstream.sessions import Session, hash_session_token
from kensho.upstream.simulator import running_simulator

RECORD = {"access_token": "acc-123", "refresh_token": "ref-456", "device_id": "d", "expires_at": 1}


def _handle(app: Any, name: str) -> Any:
    handle = child_handle(app, name)
    assert handle is not None
    return handle


def key() -> str:
    return Fernet.generate_key().decode()


# -- the cipher ----------------------------------------------------------------------------------


def test_seal_hides_the_record_and_opens_with_the_same_key() -> None:
    cipher = SessionCipher([key().encode()])
    sealed = cipher.seal(RECORD)
    text = orjson.dumps(sealed).decode()
    assert "acc-123" not in text and "ref-456" not in text
    assert SessionCipher.is_sealed(sealed) and sealed["v"] == 1
    assert cipher.open(sealed) == RECORD


def test_a_wrong_key_cannot_open_but_a_rotated_key_list_can() -> None:
    old, new = key(), key()
    sealed = SessionCipher([old.encode()]).seal(RECORD)
    with pytest.raises(UndecryptableRecord):
        SessionCipher([new.encode()]).open(sealed)
    rotated = SessionCipher([new.encode(), old.encode()])
    assert rotated.open(sealed) == RECORD
    # new records are sealed with the first key only
    assert SessionCipher([new.encode()]).open(rotated.seal(RECORD)) == RECORD


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        "gAAAA",
        {},
        {"fernet": 5},
        {"fernet": ""},
        {"fernet": "not-a-token"},
        {"fernet": "é" * 10},
        {"fernet": "gAAAAA" + "A" * 100_000},
        {"fernet": "\x00" * 64},
    ],
)
def test_hostile_stored_values_are_undecryptable(stored: Any) -> None:
    with pytest.raises(UndecryptableRecord):
        SessionCipher([key().encode()]).open(stored)


def test_tampered_ciphertext_is_undecryptable() -> None:
    cipher = SessionCipher([key().encode()])
    sealed = cipher.seal(RECORD)
    token = sealed["fernet"]
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(UndecryptableRecord):
        cipher.open({**sealed, "fernet": flipped})


def test_a_sealed_non_object_is_refused() -> None:
    k = key()
    cipher = SessionCipher([k.encode()])
    sealed = {"v": 1, "fernet": Fernet(k.encode()).encrypt(b"[1, 2]").decode()}
    with pytest.raises(UndecryptableRecord):
        cipher.open(sealed)


# -- key configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["short", "x" * 44, ",,", "é" * 44, ",".join([Fernet.generate_key().decode()] * 9)],
)
def test_bad_configured_keys_are_config_errors_without_the_value(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_session_cipher(Config(session_encryption_key=value))
    message = str(info.value)
    assert "KENSHO_SESSION_ENCRYPTION_KEY" in message
    assert value not in message


def test_configured_keys_decrypt_in_any_position(tmp_path: Path) -> None:
    old, new = key(), key()
    sealed = SessionCipher([old.encode()]).seal(RECORD)
    cipher = load_session_cipher(Config(data_dir=tmp_path, session_encryption_key=f"{new}, {old}"))
    assert cipher.open(sealed) == RECORD
    assert not (tmp_path / KEY_FILE).exists()  # a configured key never touches the disk


def test_unset_key_is_generated_once_private_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config(data_dir=tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="kensho.auth.crypto"):
        first = load_session_cipher(config)
        second = load_session_cipher(config)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second.open(first.seal(RECORD)) == RECORD
    assert "KENSHO_SESSION_ENCRYPTION_KEY unset" in caplog.text and "replica" in caplog.text
    key_text = path.read_text().strip()
    assert key_text not in caplog.text
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temp file left behind


def test_two_processes_minting_at_once_agree_on_the_first_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data" / KEY_FILE
    theirs = Fernet.generate_key()
    real_link = os.link

    def lose_the_race(src: Any, dst: Any) -> None:
        path.write_bytes(theirs + b"\n")  # the other process linked its key first
        os.chmod(path, 0o600)
        real_link(src, dst)  # raises FileExistsError, as the loser's link does

    monkeypatch.setattr(crypto_module.os, "link", lose_the_race)
    cipher = load_session_cipher(Config(data_dir=tmp_path / "data"))
    assert SessionCipher([theirs]).open(cipher.seal(RECORD)) == RECORD
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # our temp file is gone


def test_a_cipher_needs_a_key_and_can_mint_one() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        SessionCipher([])
    cipher = SessionCipher.generate()
    assert cipher.open(cipher.seal(RECORD)) == RECORD
    assert SessionCipher.generate().seal(RECORD) != cipher.seal(RECORD)


def test_a_loose_key_file_is_tightened_and_a_damaged_one_refused(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    load_session_cipher(config)
    path = tmp_path / KEY_FILE
    os.chmod(path, 0o644)
    load_session_cipher(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ConfigError, match="does not hold a Fernet key"):
        load_session_cipher(config)


# -- through the app -----------------------------------------------------------------------------


async def _live_session(kit: Any, token: str) -> Session:
    session: Session | None = await _handle(kit.app, "session_pool").ask(LookupSession(token))
    assert session is not None
    return session


@pytest.mark.usefixtures("redis_client")
async def test_the_column_holds_no_plaintext_token(make_kit: Any, db_pool: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        upstream = (await _live_session(kit, token)).upstream
        assert upstream.refresh_token
        row = await fetch_one(
            db_pool,
            "SELECT upstream::text, row_to_json(s)::text FROM kensho_sessions s "
            "WHERE token_hash = %s",
            (hash_session_token(token),),
        )
        assert row is not None
        for secret in (upstream.access_token, upstream.refresh_token, token):
            assert secret not in row[0] and secret not in row[1]
        assert set(orjson.loads(row[0])) == {"v", "fernet"}
        stored = await stored_token(db_pool, hash_session_token(token))
        assert stored is not None and stored.refresh_token == upstream.refresh_token
        assert (await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))).ok


@pytest.mark.usefixtures("redis_client")
async def test_a_wrong_key_after_restart_is_401_not_500(
    make_kit: Any, db_pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    free1, _, _ = episodes()
    async with running_simulator() as url:
        async with make_kit(sim_url=url) as first:
            token = await first.login(DEMO)
        async with make_kit(sim_url=url, session_encryption_key=key()) as second:
            me = await second.client.get("/api/auth/me", headers=bearer(token))
            assert me.status == 401, await me.text()
            assert me.content_type == "application/problem+json"
            stream = await second.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
            assert stream.status == 401
            assert second.app[AUTH].store.undecryptable >= 1
    assert "cannot be read" in caplog.text


@pytest.mark.usefixtures("redis_client")
async def test_a_tampered_or_garbage_row_is_401(make_kit: Any, db_pool: Any) -> None:
    async with running_simulator() as url:
        async with make_kit(sim_url=url) as first:
            tokens = [await first.login(DEMO) for _ in range(3)]
        bad_values = ['{"v": 1, "fernet": "gAAAAAtampered"}', '{"v": 1}', "[1, 2, 3]"]
        for token, value in zip(tokens, bad_values, strict=True):
            await execute(
                db_pool,
                "UPDATE kensho_sessions SET upstream = %s::jsonb WHERE token_hash = %s",
                (value, hash_session_token(token)),
            )
        async with make_kit(sim_url=url) as second:
            for token in tokens:
                me = await second.client.get("/api/auth/me", headers=bearer(token))
                assert me.status == 401, await me.text()


@pytest.mark.usefixtures("redis_client")
async def test_a_legacy_plaintext_row_is_read_and_resealed(make_kit: Any, db_pool: Any) -> None:
    async with running_simulator() as url:
        async with make_kit(sim_url=url) as first:
            token = await first.login(DEMO)
            upstream = (await _live_session(first, token)).upstream
        key_hash = hash_session_token(token)
        await execute(
            db_pool,
            "UPDATE kensho_sessions SET upstream = %s::jsonb WHERE token_hash = %s",
            (orjson.dumps(upstream.to_record()).decode(), key_hash),
        )
        async with make_kit(sim_url=url) as second:
            me = await second.client.get("/api/auth/me", headers=bearer(token))
            assert me.status == 200
        row = await fetch_one(
            db_pool, "SELECT upstream::text FROM kensho_sessions WHERE token_hash = %s", (key_hash,)
        )
        assert row is not None
        assert upstream.access_token not in row[0] and set(orjson.loads(row[0])) == {"v", "fernet"}
