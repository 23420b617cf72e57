"""The KeyStore contract (users and hashed API keys), on both stores.

What `grove keys` and every authenticated call rely on: duplicates refused, the list
oldest first, revocation kept as history with its first time, one-read checks of a key
(and of a conversation's owner), and a key created or revoked through one store seen at
once by another on the same database (another replica, or `grove keys` beside a server).
"""

from __future__ import annotations

import asyncio

import pytest

from grove_explorer.server.store import DuplicateApiKeyError, KeyStore, Store
from grove_explorer.server.store.location import DatabaseLocation
from grove_explorer.server.store.records import ApiKeyCheck
from tests.server.store_rows import another_store, rows


@pytest.fixture
def keys(any_store: Store) -> KeyStore:
    assert isinstance(any_store, KeyStore)
    return any_store


async def test_keys_are_created_listed_oldest_first_and_duplicates_refused(
    keys: KeyStore, database: DatabaseLocation
) -> None:
    assert await keys.list_api_keys() == []
    assert not await keys.has_active_api_keys()
    alice = await keys.create_api_key("alice", "hash-a", "id-a", "laptop")
    bob = await keys.create_api_key("bob", "hash-b", "id-b")
    second = await keys.create_api_key("alice", "hash-c", "id-c", "phone")
    assert (alice.user_id, alice.label, alice.revoked, alice.revoke_time) == (
        "alice",
        "laptop",
        False,
        None,
    )
    assert await keys.list_api_keys() == [alice, bob, second]
    assert await keys.get_api_key("id-b") == bob
    assert await keys.get_api_key("missing") is None
    with pytest.raises(DuplicateApiKeyError):
        await keys.create_api_key("carol", "hash-a", "id-new")
    with pytest.raises(DuplicateApiKeyError):
        await keys.create_api_key("carol", "hash-new", "id-a")
    assert await keys.list_api_keys() == [alice, bob, second], "nothing of carol's was stored"
    assert sorted(rows(database, "SELECT user_id FROM users")) == [("alice",), ("bob",)]
    assert await keys.has_active_api_keys()


async def test_revocation_keeps_the_key_and_its_first_time(keys: KeyStore) -> None:
    await keys.create_api_key("alice", "hash-a", "id-a")
    revoked = await keys.revoke_api_key("id-a")
    assert revoked is not None and revoked.revoked and revoked.revoke_time is not None
    again = await keys.revoke_api_key("id-a")
    assert again == revoked, "revoking twice keeps the first revoke time"
    assert await keys.revoke_api_key("missing") is None
    assert await keys.list_api_keys() == [revoked]
    assert not await keys.has_active_api_keys()


async def test_checks_read_a_key_and_a_conversations_owner_at_once(
    any_store: Store, keys: KeyStore
) -> None:
    assert await keys.check_api_key(None) == ApiKeyCheck(None, False, False)
    await keys.create_api_key("alice", "hash-a", "id-a")
    await keys.create_api_key("bob", "hash-b", "id-b")
    assert await keys.check_api_key("hash-a") == ApiKeyCheck("alice", False, True)
    assert await keys.check_api_key("unknown") == ApiKeyCheck(None, False, True)
    assert await keys.check_api_key(None) == ApiKeyCheck(None, False, True)
    await keys.revoke_api_key("id-a")
    assert await keys.check_api_key("hash-a") == ApiKeyCheck("alice", True, True)

    cid = (await any_store.create_conversation("bob")).conversation_id
    assert await keys.check_api_key_and_owner("hash-b", cid) == (
        ApiKeyCheck("bob", False, True),
        "bob",
    )
    assert await keys.check_api_key_and_owner("hash-a", "0" * 32) == (
        ApiKeyCheck("alice", True, True),
        None,
    )
    await keys.revoke_api_key("id-b")
    assert await keys.check_api_key_and_owner(None, cid) == (ApiKeyCheck(None, False, False), "bob")


async def test_a_key_made_or_revoked_through_one_store_counts_at_once_in_another(
    keys: KeyStore, database: DatabaseLocation
) -> None:
    async with another_store(database) as replica:
        assert isinstance(replica, KeyStore)
        assert await replica.check_api_key("hash-a") == ApiKeyCheck(None, False, False)
        created = await keys.create_api_key("alice", "hash-a", "id-a")
        assert await replica.check_api_key("hash-a") == ApiKeyCheck("alice", False, True)
        assert await replica.get_api_key("id-a") == created
        with pytest.raises(DuplicateApiKeyError):
            await replica.create_api_key("eve", "hash-a", "id-e")
        await replica.revoke_api_key("id-a")
        assert await keys.check_api_key("hash-a") == ApiKeyCheck("alice", True, False)


async def test_checks_asked_together_each_get_their_own_answer(
    any_store: Store, keys: KeyStore
) -> None:
    """Starts check their keys at once (PostgreSQL answers them from one query)."""
    await keys.create_api_key("alice", "hash-a", "id-a")
    await keys.create_api_key("bob", "hash-b", "id-b")
    await keys.create_api_key("carol", "hash-c", "id-c")
    await keys.revoke_api_key("id-c")
    alices = (await any_store.create_conversation("alice")).conversation_id
    bobs = (await any_store.create_conversation("bob")).conversation_id
    asked = [
        ("hash-a", alices),
        ("hash-b", alices),
        ("hash-c", bobs),
        (None, bobs),
        ("hash-x", "0" * 32),
        ("hash-b", bobs),
    ]
    answers = await asyncio.gather(*(keys.check_api_key_and_owner(k, c) for k, c in asked))
    assert answers == [
        (ApiKeyCheck("alice", False, True), "alice"),
        (ApiKeyCheck("bob", False, True), "alice"),
        (ApiKeyCheck("carol", True, True), "bob"),
        (ApiKeyCheck(None, False, True), "bob"),
        (ApiKeyCheck(None, False, True), None),
        (ApiKeyCheck("bob", False, True), "bob"),
    ]
