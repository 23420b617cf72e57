"""The Store contract for conversations, on both stores (SQLite file, PostgreSQL server)."""

from __future__ import annotations

from grove_explorer.server.store import Store


async def test_conversations_are_created_listed_newest_first_and_per_user(
    any_store: Store,
) -> None:
    first = await any_store.create_conversation("alice", "first")
    second = await any_store.create_conversation("alice", "second")
    await any_store.create_conversation("bob", "bob's")
    listed = await any_store.list_conversations("alice")
    assert [c.title for c in listed] == ["second", "first"]
    assert await any_store.get_conversation("bob", first.conversation_id) is None
    renamed = await any_store.update_conversation("alice", first.conversation_id, "renamed", True)
    assert renamed is not None and renamed.starred and renamed.title == "renamed"
    assert [c.title for c in await any_store.list_conversations("alice")] == ["renamed", "second"]
    assert await any_store.delete_conversation("alice", second.conversation_id)
    assert not await any_store.delete_conversation("alice", second.conversation_id)
    assert [c.title for c in await any_store.list_conversations("alice")] == ["renamed"]
