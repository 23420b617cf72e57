"""The Store contract for sharing between users, on both stores (SQLite file, PostgreSQL).

Alice owns a conversation; she shares it with Bob (reader, then writer) and revokes it.
`access` answers the servicer's one question per call; the listing and search reach
shared conversations; a stranger (Carol) reaches nothing; deletion takes the shares along.
"""

from __future__ import annotations

import pytest

from grove_explorer.server.search import parse_query
from grove_explorer.server.store import NewResponse, Store, UnknownConversationError
from grove_explorer.server.store.sharing_records import Access, ShareRefusedError


async def _alice_conversation(store: Store) -> str:
    created = await store.create_conversation("alice", "orchard plans")
    human = await store.add_response(
        "alice", NewResponse(created.conversation_id, "plant quinces", "human", None)
    )
    await store.add_response(
        "alice",
        NewResponse(created.conversation_id, "quinces like sun", "model", human.response_id),
    )
    return created.conversation_id


async def _hits(store: Store, user: str, query: str) -> tuple[set[str], int]:
    parsed = parse_query(query)
    hits = await store.search(user, parsed.match, parsed.filters, 100)
    total = await store.count_search(user, parsed.match, parsed.filters)
    return {hit.conversation_id for hit in hits}, total


async def test_access_grant_regrant_revoke_and_list(any_store: Store) -> None:
    cid = await _alice_conversation(any_store)
    assert await any_store.access("alice", cid) == Access("alice", "owner")
    assert await any_store.access("bob", cid) is None
    assert await any_store.access("alice", "0" * 32) is None

    share = await any_store.grant_access("alice", cid, "bob", "reader")
    assert (share.conversation_id, share.user_id, share.role, share.granted_by) == (
        cid,
        "bob",
        "reader",
        "alice",
    )
    assert await any_store.access("bob", cid) == Access("alice", "reader")
    assert await any_store.access("carol", cid) is None

    again = await any_store.grant_access("alice", cid, "bob", "writer")
    assert again.role == "writer" and again.create_time == share.create_time
    assert await any_store.access("bob", cid) == Access("alice", "writer")
    await any_store.grant_access("alice", cid, "carol", "reader")
    listed = await any_store.list_access("alice", cid)
    assert [(s.user_id, s.role) for s in listed] == [("bob", "writer"), ("carol", "reader")]
    assert await any_store.list_access("bob", cid) == [], "only the owner lists the shares"

    assert await any_store.revoke_access("alice", cid, "bob")
    assert not await any_store.revoke_access("alice", cid, "bob")
    assert await any_store.access("bob", cid) is None
    assert not await any_store.revoke_access("bob", cid, "carol"), "only the owner revokes"
    assert await any_store.access("carol", cid) == Access("alice", "reader")


async def test_grants_are_refused_clearly(any_store: Store) -> None:
    cid = await _alice_conversation(any_store)
    with pytest.raises(ShareRefusedError, match="owns this conversation"):
        await any_store.grant_access("alice", cid, "alice", "reader")
    with pytest.raises(ShareRefusedError, match="'reader' or 'writer'"):
        await any_store.grant_access("alice", cid, "bob", "owner")
    with pytest.raises(UnknownConversationError):
        await any_store.grant_access("bob", cid, "carol", "reader")
    with pytest.raises(UnknownConversationError):
        await any_store.grant_access("alice", "0" * 32, "bob", "reader")
    assert await any_store.list_access("alice", cid) == []


async def test_the_listing_and_search_reach_shared_conversations_only(any_store: Store) -> None:
    cid = await _alice_conversation(any_store)
    own = await any_store.create_conversation("bob", "bob's own quinces")
    assert [c.conversation_id for c in await any_store.list_conversations("bob")] == [
        own.conversation_id
    ]
    assert await _hits(any_store, "bob", "quinces") == ({own.conversation_id}, 1)
    assert await _hits(any_store, "bob", "sender:human") == (set(), 0)

    await any_store.grant_access("alice", cid, "bob", "reader")
    listed = await any_store.list_conversations("bob")
    assert {(c.conversation_id, c.user_id, c.role) for c in listed} == {
        (own.conversation_id, "bob", "owner"),
        (cid, "alice", "reader"),
    }
    shared = next(c for c in listed if c.conversation_id == cid)
    assert (shared.title, shared.response_count) == ("orchard plans", 2)
    assert [c.role for c in await any_store.list_conversations("alice")] == ["owner"]
    # Messages and the title of Alice's conversation, and Bob's own title.
    assert await _hits(any_store, "bob", "quinces") == ({cid, own.conversation_id}, 3)
    assert await _hits(any_store, "bob", "sender:human") == ({cid}, 1)
    assert await _hits(any_store, "carol", "quinces") == (set(), 0)

    await any_store.revoke_access("alice", cid, "bob")
    assert await _hits(any_store, "bob", "quinces") == ({own.conversation_id}, 1)
    assert [c.conversation_id for c in await any_store.list_conversations("bob")] == [
        own.conversation_id
    ]


async def test_a_reader_keeps_a_place_of_their_own(any_store: Store) -> None:
    cid = await _alice_conversation(any_store)
    first = (await any_store.list_responses("alice", cid))[0]
    assert not await any_store.set_leaf("bob", cid, first.response_id), "no access, no place"
    await any_store.grant_access("alice", cid, "bob", "reader")
    assert await any_store.set_leaf("bob", cid, first.response_id)
    bob_leaf = await any_store.get_leaf("bob", cid)
    assert bob_leaf is not None and bob_leaf.response_id == first.response_id
    assert await any_store.get_leaf("alice", cid) is None, "Bob's place is not Alice's"


async def test_a_writers_response_records_its_author_and_their_place_follows(
    any_store: Store,
) -> None:
    cid = await _alice_conversation(any_store)
    await any_store.grant_access("alice", cid, "bob", "writer")
    await any_store.set_leaf("bob", cid, None, follows="stream-1")
    human = await any_store.add_response(
        "alice",
        NewResponse(cid, "and pears?", "human", None, author="bob"),
        leaf_follows="stream-1",
    )
    assert human.author == "bob"
    listed = await any_store.list_responses("alice", cid)
    assert [r.author for r in listed] == ["", "", "bob"]
    bob_leaf = await any_store.get_leaf("bob", cid)
    assert bob_leaf is not None and bob_leaf.response_id == human.response_id
    assert await any_store.get_leaf("alice", cid) is None


async def test_deleting_the_conversation_removes_its_shares(any_store: Store) -> None:
    cid = await _alice_conversation(any_store)
    await any_store.grant_access("alice", cid, "bob", "writer")
    assert await any_store.delete_conversation("alice", cid)
    assert await any_store.access("bob", cid) is None
    assert await any_store.list_conversations("bob") == []
    assert await any_store.list_access("alice", cid) == []
