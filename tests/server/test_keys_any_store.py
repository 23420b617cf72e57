"""`grove keys` on the store `--db` (or `$GROVE_DB`) names: a SQLite file or PostgreSQL.

A team server's keys live in its PostgreSQL database; the command opens it as
`grove serve` does, and a running server (any replica) refuses a revoked key from its
next call. Unreachable or malformed URLs are a sentence naming the database without its
password, never a traceback.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from grove_explorer.app.cli import main as grove
from grove_explorer.client import Client, UnauthenticatedError
from grove_explorer.server.auth import hash_key
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.keys import KEY_PREFIX, key_id_of
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl
from tests.postgres_server import free_port
from tests.server.store_rows import rows


def created_key(output: str) -> str:
    [key] = [line for line in output.splitlines() if line.startswith(KEY_PREFIX)]
    return key


def location_text(db: DatabaseLocation) -> str:
    """What an operator types after --db (the whole URL, password included)."""
    return db.url if isinstance(db, PostgresUrl) else str(db)


def keys_json(db: DatabaseLocation, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert grove(["keys", "list", "--json", "--db", location_text(db)]) == 0
    return json.loads(capsys.readouterr().out)


def test_keys_are_created_listed_and_revoked_in_either_store(
    database: DatabaseLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    db = location_text(database)
    assert grove(["keys", "list", "--db", db]) == 0
    assert "No API keys" in capsys.readouterr().out
    assert grove(["keys", "create", "--user", "alice", "--label", "laptop", "--db", db]) == 0
    out = capsys.readouterr().out
    key = created_key(out)
    assert "first active key" in out
    # Only the hash is stored, in the database the command was given.
    assert rows(database, "SELECT key_hash, user_id FROM api_keys") == [(hash_key(key), "alice")]
    assert grove(["keys", "create", "--user", "bob", "--db", db]) == 0
    capsys.readouterr()
    listed = keys_json(database, capsys)
    assert [(k["key_id"], k["user"], k["label"], k["revoked"]) for k in listed] == [
        (key_id_of(key), "alice", "laptop", False),
        (listed[1]["key_id"], "bob", "", False),
    ]
    assert grove(["keys", "revoke", "000000000000", "--db", db]) == 1
    assert "No API key has the id '000000000000'" in capsys.readouterr().err
    assert grove(["keys", "revoke", key_id_of(key), "--db", db]) == 0
    assert "Revoked key" in capsys.readouterr().out
    revoked = keys_json(database, capsys)[0]
    assert revoked["revoked"] is True and revoked["revoke_time"]


def test_grove_db_in_the_environment_names_the_database(
    postgres_url: PostgresUrl, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROVE_DB", postgres_url.url)
    assert grove(["keys", "create", "--user", "carol"]) == 0
    key = created_key(capsys.readouterr().out)
    assert rows(postgres_url, "SELECT key_id FROM api_keys") == [(key_id_of(key),)]


async def test_a_key_revoked_by_the_command_is_refused_by_a_running_postgres_server(
    postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    db = postgres_url.url
    assert await asyncio.to_thread(grove, ["keys", "create", "--user", "alice", "--db", db]) == 0
    key = created_key(capsys.readouterr().out)
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=postgres_url))
    await server.start()
    try:
        async with Client(api_host=server.address, api_key=key) as alice:
            assert await alice.grok.list_conversations() == []
            revoke = ["keys", "revoke", key_id_of(key), "--db", db]
            assert await asyncio.to_thread(grove, revoke) == 0
            with pytest.raises(UnauthenticatedError, match="revoked"):
                await alice.grok.list_conversations()
    finally:
        await server.stop()


def test_an_unreachable_database_is_a_sentence_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://grove:s3cret@127.0.0.1:{free_port()}/nowhere"
    assert grove(["keys", "list", "--db", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("grove keys: ") and "cannot be reached" in err
    assert "s3cret" not in err and "grove:***@127.0.0.1" in err


def test_a_url_without_a_database_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        grove(["keys", "list", "--db", "postgresql://grove@127.0.0.1:5432"])
    assert exit_info.value.code == 2
    assert "names no database" in capsys.readouterr().err
