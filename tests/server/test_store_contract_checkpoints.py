"""The Store contract for checkpoints (running streams' text), on both stores.

A stream's checkpoint is saved under its server's owner id; recovery turns only the
checkpoints of owners that are gone into partial replies ("interrupted"), moves a place
that followed the crashed stream, drops those of deleted conversations, and leaves live
owners' checkpoints alone. With two stores on one database (two replicas) sweeping at
once, every orphan becomes exactly one reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import pytest

from grove_explorer.server.store import (
    Checkpoint,
    NewResponse,
    SamplingRecord,
    Store,
    UnknownParentError,
)
from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl
from tests.server.store_rows import another_store, count, rows

ALICE = "alice"
BOB = "bob"


def human(conversation_id: str, parent: str | None) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message="hi", sender="human", parent_response_id=parent
    )


def streaming(conversation_id: str, parent: str, text: str, **fields: object) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id,
        message=text,
        sender="model",
        parent_response_id=parent,
        **fields,  # type: ignore[arg-type]
    )


def gone(*dead: str) -> Callable[[str, datetime], bool]:
    """`recover_checkpoints`' predicate: the owners named are gone, every other lives."""

    def is_orphan(owner: str, updated: datetime) -> bool:
        assert updated.tzinfo is not None
        return owner in dead

    return is_orphan


async def test_checkpoints_of_gone_owners_become_partial_replies(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    start = any_store.reserve_start_time()
    sampling = SamplingRecord(temperature=0.5, top_p=1.0, max_tokens=64, seed=2**64 - 1)
    first = streaming(
        cid, question.response_id, "Once", model_name="m", sampling=sampling, start_time=start
    )
    await any_store.save_checkpoints([Checkpoint("a" * 32, ALICE, first)], owner="dead")
    # A later save of the same stream replaces its text (and keeps its owner).
    longer = streaming(
        cid, question.response_id, "Once upon", model_name="m", sampling=sampling, start_time=start
    )
    await any_store.save_checkpoints([Checkpoint("a" * 32, ALICE, longer)], owner="dead")
    live = streaming(cid, question.response_id, "still going")
    await any_store.save_checkpoints([Checkpoint("b" * 32, ALICE, live)], owner="alive")
    assert count(database, "checkpoints") == 2

    recovered = await any_store.recover_checkpoints(gone("dead"))

    assert len(recovered) == 1
    [reply] = recovered
    assert (reply.message, reply.partial, reply.finish_reason) == ("Once upon", True, "interrupted")
    assert (reply.sampling, reply.model_name, reply.start_time) == (sampling, "m", start)
    assert reply.parent_response_id == question.response_id
    assert await any_store.list_responses(ALICE, cid) == [question, reply]
    assert rows(database, "SELECT checkpoint_id, owner FROM checkpoints") == [("b" * 32, "alive")]
    assert await any_store.recover_checkpoints(gone("dead")) == []
    # Once its owner is gone too, the live one is recovered.
    assert [r.message for r in await any_store.recover_checkpoints()] == ["still going"]
    assert count(database, "checkpoints") == 0


async def test_a_stored_reply_or_a_discard_ends_its_checkpoint(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    await any_store.save_checkpoints(
        [
            Checkpoint("a" * 32, ALICE, streaming(cid, question.response_id, "a")),
            Checkpoint("b" * 32, ALICE, streaming(cid, question.response_id, "b")),
        ],
        owner="me",
    )
    await any_store.add_response(
        ALICE, streaming(cid, question.response_id, "a done"), checkpoint_id="a" * 32
    )
    assert rows(database, "SELECT checkpoint_id FROM checkpoints") == [("b" * 32,)]
    await any_store.discard_checkpoint("b" * 32)
    await any_store.discard_checkpoint("b" * 32)  # twice: harmless
    assert count(database, "checkpoints") == 0
    assert await any_store.recover_checkpoints() == []


async def test_checkpoints_of_deleted_or_foreign_conversations_are_skipped_or_dropped(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    doomed = (await any_store.create_conversation(ALICE)).conversation_id
    doomed_question = await any_store.add_response(ALICE, human(doomed, None))
    await any_store.save_checkpoints(
        [
            Checkpoint("a" * 32, ALICE, streaming(cid, question.response_id, "kept")),
            Checkpoint("b" * 32, BOB, streaming(cid, question.response_id, "not bob's")),
            Checkpoint("c" * 32, ALICE, streaming(doomed, doomed_question.response_id, "x")),
            Checkpoint("d" * 32, ALICE, streaming("0" * 32, question.response_id, "nowhere")),
        ],
        owner="dead",
    )
    assert sorted(rows(database, "SELECT checkpoint_id FROM checkpoints")) == [
        ("a" * 32,),
        ("c" * 32,),
    ]
    assert await any_store.delete_conversation(ALICE, doomed)
    assert [r.message for r in await any_store.recover_checkpoints(gone("dead"))] == ["kept"]
    assert count(database, "checkpoints") == 0


async def test_a_place_following_a_crashed_stream_ends_on_its_recovered_reply(
    any_store: Store,
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    other = (await any_store.create_conversation(ALICE)).conversation_id
    other_question = await any_store.add_response(ALICE, human(other, None))
    assert await any_store.set_leaf(ALICE, cid, question.response_id, follows="c" * 32)
    # The other conversation's place was chosen by hand: recovery leaves it alone.
    assert await any_store.set_leaf(ALICE, other, other_question.response_id)
    await any_store.save_checkpoints(
        [
            Checkpoint("c" * 32, ALICE, streaming(cid, question.response_id, "an interrupted")),
            Checkpoint("d" * 32, ALICE, streaming(other, other_question.response_id, "another")),
        ]
    )
    recovered = {r.conversation_id: r for r in await any_store.recover_checkpoints()}
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == recovered[cid].response_id
    kept = await any_store.get_leaf(ALICE, other)
    assert kept is not None and kept.response_id == other_question.response_id


async def test_two_stores_sweeping_at_once_recover_each_orphan_once(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    await any_store.save_checkpoints(
        [
            Checkpoint(f"{i:032x}", ALICE, streaming(cid, question.response_id, f"reply {i}"))
            for i in range(30)
        ],
        owner="crashed",
    )
    async with another_store(database) as replica:
        first, second = await asyncio.gather(
            any_store.recover_checkpoints(gone("crashed")),
            replica.recover_checkpoints(gone("crashed")),
        )
    messages = sorted(r.message for r in (*first, *second))
    assert messages == sorted(f"reply {i}" for i in range(30))
    assert len(await any_store.list_responses(ALICE, cid)) == 31
    assert count(database, "checkpoints") == 0


async def _presence_gone(database: PostgresUrl, owner: str) -> None:
    """Returns once `owner`'s presence connection has left `pg_stat_activity` (at most 10 s).

    PostgreSQL ends a closed connection's backend a moment after its client closed it, so
    right after `close()` another session may still see it (the test failed 2 runs in 8).
    """
    import psycopg

    from grove_explorer.server.store.postgres.connection import presence_name

    name = presence_name(owner)
    async with (
        await psycopg.AsyncConnection.connect(database.url, autocommit=True) as conn,
        asyncio.timeout(10),
    ):
        while True:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            row = await cursor.fetchone()
            if row is not None and row[0] == 0:
                return
            await asyncio.sleep(0.01)  # polling the condition itself, bounded above


async def test_a_replica_on_another_host_is_gone_when_its_presence_is(
    any_store: Store, database: DatabaseLocation
) -> None:
    """A writer on another host: alive while its store is open, recovered once it closed.

    No clock decides (the checkpoint is fresh): on PostgreSQL the writer's presence
    connection does; SQLite's servers share a host, so there the rule of owners.py (a
    fresh checkpoint of another host lives) keeps it until it goes stale.
    """
    from grove_explorer.server.owners import is_orphan

    writer_owner = "elsewhere.example:4242:" + "c" * 32
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    async with another_store(database) as writer:
        await writer.announce_owner(writer_owner)
        reply = streaming(cid, question.response_id, "Half a", model_name="m")
        await writer.save_checkpoints([Checkpoint("d" * 32, ALICE, reply)], owner=writer_owner)
        assert await any_store.recover_checkpoints(is_orphan) == [], "its writer is connected"
    if isinstance(database, PostgresUrl):
        await _presence_gone(database, writer_owner)
    recovered = await any_store.recover_checkpoints(is_orphan)
    if isinstance(database, PostgresUrl):
        assert [r.message for r in recovered] == ["Half a"]
        assert recovered[0].partial
    else:
        assert recovered == []


async def test_a_refused_reply_keeps_its_checkpoint_the_place_and_stores_no_tokens(
    any_store: Store, database: DatabaseLocation
) -> None:
    """The insert, its tokens, the place and the checkpoint go together or not at all.

    (On PostgreSQL they are one statement: each part waits on the insert having stored.)
    """
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None))
    await any_store.set_leaf(ALICE, cid, question.response_id, follows="f" * 32)
    await any_store.save_checkpoints(
        [Checkpoint("a" * 32, ALICE, streaming(cid, question.response_id, "a"))], owner="me"
    )
    refused = NewResponse(
        cid, "late", "model", "0" * 32, tokens=(("late", -0.5, ()),)
    )  # its parent is not in the conversation
    with pytest.raises(UnknownParentError):
        await any_store.add_response(ALICE, refused, checkpoint_id="a" * 32, leaf_follows="f" * 32)
    assert rows(database, "SELECT checkpoint_id FROM checkpoints") == [("a" * 32,)]
    assert count(database, "response_tokens") == 0
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == question.response_id
    stored = await any_store.add_response(
        ALICE,
        NewResponse(cid, "late", "model", question.response_id, tokens=(("late", -0.5, ()),)),
        checkpoint_id="a" * 32,
        leaf_follows="f" * 32,
    )
    assert count(database, "checkpoints") == 0 and count(database, "response_tokens") == 1
    leaf = await any_store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == stored.response_id
    assert await any_store.response_tokens(ALICE, cid, stored.response_id) == [("late", -0.5, ())]
