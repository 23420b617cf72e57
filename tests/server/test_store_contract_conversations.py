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


async def test_a_title_set_without_a_star_keeps_the_star_as_stored(any_store: Store) -> None:
    """GenerateTitle's write: a star set after its read (by another call) is kept."""
    created = await any_store.create_conversation("alice", "")
    cid = created.conversation_id
    starred = await any_store.update_conversation("alice", cid, "", True)
    assert starred is not None and starred.starred
    titled = await any_store.update_conversation("alice", cid, "Generated", None)
    assert titled is not None and (titled.title, titled.starred) == ("Generated", True)
    assert titled.update_time > starred.update_time
    unstarred = await any_store.update_conversation("alice", cid, "Generated", False)
    assert unstarred is not None and not unstarred.starred
    kept = await any_store.update_conversation("alice", cid, "Again", None)
    assert kept is not None and (kept.title, kept.starred) == ("Again", False)
    assert await any_store.update_conversation("bob", cid, "Stolen", None) is None
