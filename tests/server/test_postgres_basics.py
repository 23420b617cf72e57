"""The PostgreSQL store's foundation against a real PostgreSQL server: schema, pool, failures.

The behaviour shared with the SQLite store is tested on both stores by the contract tests;
these tests check what only the PostgreSQL store has: migrations under an advisory lock
(replicas starting together), a refused newer schema, an unreachable server as a
StorageFailure that names the database without its password.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from grove_explorer.server.store import StorageFailure
from grove_explorer.server.store.location import PostgresUrl, parse_database
from grove_explorer.server.store.migrations import SchemaVersionError
from grove_explorer.server.store.postgres import PostgresStore, StoreClosedError
from grove_explorer.server.store.postgres.schema import LATEST_PG_VERSION
from tests.postgres_server import free_port


def versions(url: PostgresUrl) -> list[int]:
    with psycopg.connect(url.url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


async def test_open_creates_the_schema_once_even_for_replicas_starting_together(
    postgres_url: PostgresUrl,
) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert versions(postgres_url) == list(range(1, LATEST_PG_VERSION + 1))
        created = await stores[0].create_conversation("alice", "from replica 0")
        seen = await stores[3].get_conversation("alice", created.conversation_id)
        assert seen == created
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    async with PostgresStore(postgres_url) as again:
        assert [c.title for c in await again.list_conversations("alice")] == ["from replica 0"]
    assert versions(postgres_url) == list(range(1, LATEST_PG_VERSION + 1))


async def test_conversations_round_trip_and_stay_per_user(postgres_url: PostgresUrl) -> None:
    async with PostgresStore(postgres_url) as store:
        first = await store.create_conversation("alice", "first")
        second = await store.create_conversation("alice", "second")
        assert second.create_time > first.create_time
        assert await store.get_conversation("bob", first.conversation_id) is None
        assert not await store.has_conversation("bob", first.conversation_id)
        updated = await store.update_conversation("alice", first.conversation_id, "renamed", True)
        assert updated is not None
        assert (updated.title, updated.starred) == ("renamed", True)
        assert updated.update_time > first.update_time
        listed = await store.list_conversations("alice")
        assert [c.conversation_id for c in listed] == [
            first.conversation_id,
            second.conversation_id,
        ]
        assert await store.update_conversation("bob", first.conversation_id, "x", False) is None
        assert not await store.delete_conversation("bob", first.conversation_id)
        assert await store.delete_conversation("alice", first.conversation_id)
        assert await store.get_conversation("alice", first.conversation_id) is None


async def test_a_newer_schema_is_refused(postgres_url: PostgresUrl) -> None:
    async with PostgresStore(postgres_url):
        pass
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, applied_time) VALUES (%s, now())",
            (LATEST_PG_VERSION + 1,),
        )
    store = PostgresStore(postgres_url)
    with pytest.raises(SchemaVersionError, match="newer than this Grove knows"):
        await store.open()
    with pytest.raises(StoreClosedError):
        await store.list_conversations("alice")


async def test_an_unreachable_server_is_an_io_failure_without_the_password() -> None:
    url = PostgresUrl(f"postgresql://grove:s3cret@127.0.0.1:{free_port()}/grove?connect_timeout=2")
    store = PostgresStore(url)
    with pytest.raises(StorageFailure) as raised:
        await store.open()
    assert raised.value.kind == "io"
    assert "s3cret" not in raised.value.message
    assert "grove:***@127.0.0.1" in raised.value.message


def test_db_values_name_a_file_or_a_postgres_database(tmp_path: object) -> None:
    url = parse_database("postgresql://grove:pw@db.lab:5433/team")
    assert isinstance(url, PostgresUrl)
    assert (url.database, str(url)) == ("team", "postgresql://grove:***@db.lab:5433/team")
    assert "pw" not in repr(url)
    assert str(parse_database("grove.sqlite3")) == "grove.sqlite3"
    with pytest.raises(ValueError, match="names no database"):
        parse_database("postgresql://grove@db.lab:5433")


@pytest.mark.parametrize("flag", ["read_only", "allow_damaged_db"])
def test_sqlite_file_options_are_refused_with_a_postgres_database(flag: str) -> None:
    from grove_explorer.server.config import ServerConfig
    from grove_explorer.server.runtime import StartupError, default_store

    config = ServerConfig(db=PostgresUrl("postgresql://grove@db.lab/team"), **{flag: True})
    with pytest.raises(StartupError, match="apply to SQLite files only"):
        default_store(config)
