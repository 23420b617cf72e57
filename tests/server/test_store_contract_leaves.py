"""The Store contract for each user's place (leaf), on both stores.

Ported from tests/server/test_leaves.py and test_store.py: set_leaf checks ownership and
membership, a followed stream moves the place as its responses are stored, a user who
chose elsewhere is not pulled away, a start that cannot store its message writes nothing,
the place goes with its conversation.
"""

from __future__ import annotations

import pytest

from grove_explorer.server.store import (
    NewResponse,
    Store,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.store.location import DatabaseLocation
from tests.server.store_rows import another_store, rows

ALICE = "alice"
BOB = "bob"


def human(conversation_id: str, parent: str | None) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message="hi", sender="human", parent_response_id=parent
    )


def model(conversation_id: str, parent: str | None) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message="ok", sender="model", parent_response_id=parent
    )


async def test_set_leaf_checks_the_conversation_and_the_response(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    other = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None))
    foreign = await any_store.add_response(ALICE, human(other, None))
    assert await any_store.get_leaf(ALICE, cid) is None, "no place chosen yet"

    assert not await any_store.set_leaf(BOB, cid, root.response_id), "not Bob's conversation"
    assert not await any_store.set_leaf(ALICE, cid, "2" * 32), "not a response of it"
    assert not await any_store.set_leaf(ALICE, cid, foreign.response_id), "of another one"
    assert not await any_store.set_leaf(ALICE, "0" * 32, None), "no such conversation"
    assert await any_store.get_leaf(ALICE, cid) is None

    assert await any_store.set_leaf(ALICE, cid, root.response_id)
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == root.response_id
    assert await any_store.get_leaf(BOB, cid) is None
    # None is a choice too: no leaf (the next message starts a new root).
    assert await any_store.set_leaf(ALICE, cid, None)
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id is None


async def test_a_followed_stream_moves_the_place_and_a_choice_elsewhere_wins(
    any_store: Store,
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    assert await any_store.set_leaf(ALICE, cid, question.response_id, follows="s" * 32)
    # A reply of another stream (a background sample) leaves the place alone.
    background = await any_store.add_response(
        ALICE, model(cid, question.response_id), leaf_follows="t" * 32
    )
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == question.response_id
    reply = await any_store.add_response(
        ALICE, model(cid, question.response_id), leaf_follows="s" * 32
    )
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == reply.response_id
    # The reply ended the following: a later reply of the same stream id moves nothing.
    await any_store.add_response(ALICE, model(cid, question.response_id), leaf_follows="s" * 32)
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == reply.response_id

    # Following again, then choosing elsewhere before the reply is stored: the choice stands.
    assert await any_store.set_leaf(ALICE, cid, question.response_id, follows="u" * 32)
    assert await any_store.set_leaf(ALICE, cid, background.response_id)
    await any_store.add_response(ALICE, model(cid, question.response_id), leaf_follows="u" * 32)
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == background.response_id


async def test_a_stream_starts_following_with_its_human_message(
    any_store: Store, database: DatabaseLocation
) -> None:
    """`add_response(start_following=True)` leaves what set_leaf then the insert left."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    first = await any_store.add_response(ALICE, human(cid, None))
    assert await any_store.set_leaf(ALICE, cid, first.response_id)
    second = await any_store.add_response(
        ALICE, human(cid, first.response_id), leaf_follows="s" * 32, start_following=True
    )
    assert rows(
        database, "SELECT response_id, follows FROM leaves WHERE conversation_id = ?", cid
    ) == [(second.response_id, "s" * 32)], "on the message, still following"
    reply = await any_store.add_response(
        ALICE, model(cid, second.response_id), leaf_follows="s" * 32
    )
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == reply.response_id
    # A start that cannot store its message writes nothing.
    with pytest.raises(UnknownParentError):
        await any_store.add_response(
            ALICE, human(cid, "0" * 32), leaf_follows="t" * 32, start_following=True
        )
    with pytest.raises(UnknownConversationError):
        await any_store.add_response(
            BOB, human(cid, None), leaf_follows="t" * 32, start_following=True
        )
    assert rows(database, "SELECT response_id, follows FROM leaves") == [(reply.response_id, None)]


async def test_the_place_is_per_user_shared_by_replicas_and_goes_with_its_conversation(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    keep = (await any_store.create_conversation(ALICE)).conversation_id
    in_cid = await any_store.add_response(ALICE, human(cid, None))
    kept = await any_store.add_response(ALICE, human(keep, None))
    assert await any_store.set_leaf(ALICE, cid, in_cid.response_id)
    async with another_store(database) as replica:
        assert await replica.set_leaf(ALICE, keep, kept.response_id)
        leaf = await replica.get_leaf(ALICE, cid)
        assert leaf is not None and leaf.response_id == in_cid.response_id
    assert await any_store.delete_conversation(ALICE, cid)
    assert await any_store.get_leaf(ALICE, cid) is None
    assert rows(database, "SELECT conversation_id, response_id FROM leaves") == [
        (keep, kept.response_id)
    ]
