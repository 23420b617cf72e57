"""The Store contract for responses, on both stores (SQLite file, PostgreSQL server).

Ported from the SQLite store's behaviour tests (tests/server/test_store.py,
test_deep_paths.py): every field round trips, refused writes store nothing, another
user's data is invisible, deep paths, concurrent and cancelled writes — and, what a team
server adds, two stores on one database (two replicas) writing the same conversation.
Rows are counted through a connection of the test's own (tests/server/store_rows.py).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from itertools import pairwise

import pytest

from grove_explorer.server.store import (
    NewResponse,
    SamplingRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.store.location import DatabaseLocation
from tests.server.store_rows import another_store, count, scalar

ALICE = "alice"
BOB = "bob"


def human(conversation_id: str, parent: str | None, message: str = "hi") -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=parent
    )


async def chain(store: Store, conversation_id: str, depth: int) -> list[str]:
    """A chain of `depth` responses built through the store, alternating human and model."""
    ids: list[str] = []
    parent = None
    for i in range(depth):
        record = await store.add_response(
            ALICE,
            NewResponse(
                conversation_id=conversation_id,
                message=f"message {i}",
                sender="human" if i % 2 == 0 else "model",
                parent_response_id=parent,
            ),
        )
        parent = record.response_id
        ids.append(parent)
    return ids


# -- round trips ---------------------------------------------------------------------------


async def test_add_response_round_trips_every_field(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    question = await any_store.add_response(ALICE, human(cid, None, "What is a tree?"))
    start = any_store.reserve_start_time()
    tokens = (("A", None, ()), (" graph", -0.25, ((" graph", -0.25), (" tree", -1.5))))
    new = NewResponse(
        conversation_id=cid,
        message="A connected acyclic graph.",
        sender="model",
        parent_response_id=question.response_id,
        manual=True,
        partial=True,
        query="trees",
        query_type="search",
        model_name="offline-1",
        sampling=SamplingRecord(temperature=0.7, top_p=0.95, max_tokens=256, seed=12345),
        token_count=7,
        time_to_first_token_seconds=0.125,
        total_time_seconds=1.5,
        prefix_length=2,
        finish_reason="length",
        reported_prompt_tokens=11,
        reported_completion_tokens=7,
        merged_from=("a" * 32, "b" * 32),
        merge_mode="fuse",
        merge_instruction="keep both",
        replay_of="c" * 32,
        system_prompt_name="terse",
        tokens=tokens,
        start_time=start,
    )

    answer = await any_store.add_response(ALICE, new)

    assert answer.seq > question.seq
    assert answer.start_time == start < answer.create_time
    assert answer.create_time.utcoffset() == timedelta(0)
    assert answer.shared is False
    for name in (
        "message",
        "sender",
        "parent_response_id",
        "manual",
        "partial",
        "query",
        "query_type",
        "model_name",
        "sampling",
        "token_count",
        "time_to_first_token_seconds",
        "total_time_seconds",
        "prefix_length",
        "finish_reason",
        "reported_prompt_tokens",
        "reported_completion_tokens",
        "merged_from",
        "merge_mode",
        "merge_instruction",
        "replay_of",
        "system_prompt_name",
    ):
        assert getattr(answer, name) == getattr(new, name), name
    assert await any_store.get_response(ALICE, cid, answer.response_id) == answer
    assert await any_store.list_responses(ALICE, cid) == [question, answer]
    assert question.system_prompt_name is None and question.reported_prompt_tokens is None
    assert await any_store.response_tokens(ALICE, cid, answer.response_id) == list(tokens)
    assert await any_store.response_tokens(ALICE, cid, question.response_id) == []
    refreshed = await any_store.get_conversation(ALICE, cid)
    assert refreshed is not None
    assert refreshed.update_time == answer.create_time
    assert refreshed.response_count == 2


async def test_sampling_round_trips_extreme_seeds_and_none_across_a_reopen(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    seeds = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    stored = []
    for seed in seeds:
        sampling = SamplingRecord(temperature=1.25, top_p=0.5, max_tokens=2**31 - 1, seed=seed)
        stored.append(
            await any_store.add_response(
                ALICE, NewResponse(cid, "m", "model", None, model_name="x", sampling=sampling)
            )
        )
    unsampled = await any_store.add_response(ALICE, NewResponse(cid, "typed", "model", None))

    listed = await any_store.list_responses(ALICE, cid)
    assert [r.sampling.seed for r in listed[:-1] if r.sampling] == seeds
    assert listed == [*stored, unsampled]
    assert listed[-1].sampling is None
    assert (
        scalar(
            database,
            "SELECT COUNT(*) FROM responses WHERE temperature IS NULL AND top_p IS NULL"
            " AND max_tokens IS NULL AND seed IS NULL",
        )
        == 1
    )
    await any_store.close()
    async with another_store(database) as reopened:
        assert await reopened.list_responses(ALICE, cid) == listed


@pytest.mark.parametrize("seed", [-1, 2**64])
async def test_a_seed_outside_uint64_is_refused_and_nothing_stored(
    any_store: Store, database: DatabaseLocation, seed: int
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    sampling = SamplingRecord(temperature=1.0, top_p=1.0, max_tokens=1, seed=seed)
    with pytest.raises(ValueError, match="seed"):
        await any_store.add_response(ALICE, NewResponse(cid, "m", "model", None, sampling=sampling))
    assert count(database, "responses") == 0


async def test_tokens_of_many_responses_in_one_call(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    other = (await any_store.create_conversation(ALICE)).conversation_id
    replies = []
    for i in range(3):
        tokens = tuple((f"t{i}{k}", -0.5 * k, ()) for k in range(i + 1))
        replies.append(
            await any_store.add_response(ALICE, NewResponse(cid, "x", "model", None, tokens=tokens))
        )
    bare = await any_store.add_response(ALICE, human(cid, None))
    foreign = await any_store.add_response(ALICE, human(other, None))
    ids = [r.response_id for r in (*replies, bare, foreign)] + ["missing", replies[0].response_id]

    found = await any_store.responses_tokens(ALICE, cid, ids)

    assert set(found) == {r.response_id for r in (*replies, bare)}
    assert [len(found[r.response_id]) for r in replies] == [1, 2, 3]
    assert found[bare.response_id] == []
    assert await any_store.responses_tokens(BOB, cid, ids) == {}
    assert await any_store.responses_tokens(ALICE, cid, []) == {}
    assert await any_store.response_tokens(BOB, cid, replies[0].response_id) is None
    assert await any_store.response_tokens(ALICE, other, replies[0].response_id) is None


# -- refused writes -------------------------------------------------------------------------


async def test_a_response_to_an_unknown_conversation_writes_nothing(
    any_store: Store, database: DatabaseLocation
) -> None:
    with pytest.raises(UnknownConversationError):
        await any_store.add_response(ALICE, human("no-such-conversation", None))
    assert count(database, "responses") == 0


@pytest.mark.parametrize("parent_kind", ["unknown", "other_conversation", "empty_string"])
async def test_a_response_with_a_bad_parent_writes_nothing(
    any_store: Store, database: DatabaseLocation, parent_kind: str
) -> None:
    target = await any_store.create_conversation(ALICE)
    other = await any_store.create_conversation(ALICE)
    other_root = await any_store.add_response(ALICE, human(other.conversation_id, None))
    target_root = await any_store.add_response(ALICE, human(target.conversation_id, None))
    parent = {
        "unknown": uuid.uuid4().hex,
        "other_conversation": other_root.response_id,
        "empty_string": "",
    }[parent_kind]
    before = await any_store.get_conversation(ALICE, target.conversation_id)

    with pytest.raises(UnknownParentError):
        await any_store.add_response(
            ALICE,
            NewResponse(target.conversation_id, "x", "model", parent, tokens=(("x", None, ()),)),
            checkpoint_id="c" * 32,
            leaf_follows="c" * 32,
            start_following=True,
        )

    assert count(database, "responses") == 2
    assert count(database, "response_tokens") == 0
    assert count(database, "leaves") == 0
    assert await any_store.get_conversation(ALICE, target.conversation_id) == before
    assert await any_store.list_responses(ALICE, target.conversation_id) == [target_root]


# -- users ------------------------------------------------------------------------------------


async def test_another_users_responses_behave_as_missing(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE, "private")).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None))
    child = await any_store.add_response(ALICE, human(cid, root.response_id))
    before = await any_store.get_conversation(ALICE, cid)

    assert await any_store.list_responses(BOB, cid) == []
    assert await any_store.get_response(BOB, cid, root.response_id) is None
    with pytest.raises(UnknownParentError):
        await any_store.path_to(BOB, cid, child.response_id)
    with pytest.raises(UnknownConversationError):
        await any_store.add_response(BOB, human(cid, None))
    with pytest.raises(UnknownConversationError):
        await any_store.add_response(BOB, human(cid, root.response_id))
    assert await any_store.mark_shared(BOB, cid, [root.response_id, child.response_id]) == 0

    assert await any_store.get_conversation(ALICE, cid) == before
    assert await any_store.list_responses(ALICE, cid) == [root, child]
    assert count(database, "responses") == 2
    assert await any_store.path_to(ALICE, cid, child.response_id) == [root, child]


async def test_a_response_of_another_conversation_is_none(any_store: Store) -> None:
    one = await any_store.create_conversation(ALICE)
    two = await any_store.create_conversation(ALICE)
    response = await any_store.add_response(ALICE, human(one.conversation_id, None))
    assert await any_store.get_response(ALICE, two.conversation_id, response.response_id) is None
    assert await any_store.get_response(ALICE, one.conversation_id, "missing") is None


async def test_mark_shared_counts_changed_rows_of_that_conversation(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    other = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None))
    child = await any_store.add_response(ALICE, human(cid, root.response_id))
    sibling = await any_store.add_response(ALICE, human(cid, root.response_id))
    foreign = await any_store.add_response(ALICE, human(other, None))

    changed = await any_store.mark_shared(
        ALICE, cid, [root.response_id, child.response_id, foreign.response_id, "missing"]
    )

    assert changed == 2
    shared = {r.response_id: r.shared for r in await any_store.list_responses(ALICE, cid)}
    assert shared == {root.response_id: True, child.response_id: True, sibling.response_id: False}
    assert (await any_store.list_responses(ALICE, other))[0].shared is False
    assert await any_store.mark_shared(ALICE, cid, [root.response_id, sibling.response_id]) == 1
    assert await any_store.mark_shared(ALICE, cid, []) == 0


async def test_deleting_a_conversation_takes_its_responses_only(
    any_store: Store, database: DatabaseLocation
) -> None:
    doomed = (await any_store.create_conversation(ALICE)).conversation_id
    kept = (await any_store.create_conversation(ALICE)).conversation_id
    await chain(any_store, doomed, 5)
    kept_root = await any_store.add_response(ALICE, human(kept, None))
    assert await any_store.delete_conversation(ALICE, doomed)
    assert await any_store.list_responses(ALICE, doomed) == []
    assert count(database, "responses") == 1
    assert await any_store.list_responses(ALICE, kept) == [kept_root]


# -- paths ------------------------------------------------------------------------------------


async def test_path_to_follows_parents_from_root(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None, "root"))
    left = await any_store.add_response(ALICE, human(cid, root.response_id, "left"))
    right = await any_store.add_response(ALICE, human(cid, root.response_id, "right"))
    right_child = await any_store.add_response(ALICE, human(cid, right.response_id, "rc"))
    second_root = await any_store.add_response(ALICE, human(cid, None, "root 2"))

    assert await any_store.path_to(ALICE, cid, right_child.response_id) == [
        root,
        right,
        right_child,
    ]
    assert await any_store.path_to(ALICE, cid, left.response_id) == [root, left]
    assert await any_store.path_to(ALICE, cid, second_root.response_id) == [second_root]
    with pytest.raises(UnknownParentError):
        await any_store.path_to(ALICE, cid, "missing")
    other = (await any_store.create_conversation(ALICE)).conversation_id
    with pytest.raises(UnknownParentError):
        await any_store.path_to(ALICE, other, right_child.response_id)


async def test_a_deep_path_read_fresh_by_another_store_equals_the_kept_one(
    any_store: Store, database: DatabaseLocation
) -> None:
    """Depth 1,200 built through the store (bench.store measures 5,000 through the SDK):
    the path kept from the writes, the one another store (a replica) reads with the
    recursive query, and the middle of the chain all agree; sharing and deletion show."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    ids = await chain(any_store, cid, 1200)
    kept = await any_store.path_to(ALICE, cid, ids[-1])
    assert [r.response_id for r in kept] == ids
    assert kept[0].parent_response_id is None
    assert all(b.parent_response_id == a.response_id for a, b in pairwise(kept))
    async with another_store(database) as replica:
        fresh = await replica.path_to(ALICE, cid, ids[-1])
        assert fresh == kept
        middle = await replica.path_to(ALICE, cid, ids[599])
        assert [r.response_id for r in middle] == ids[:600]
        with pytest.raises(UnknownParentError):
            await replica.path_to(BOB, cid, ids[-1])
        assert await replica.mark_shared(ALICE, cid, ids[:3]) == 3
        assert [r.shared for r in await replica.path_to(ALICE, cid, ids[2])] == [True] * 3
    assert await any_store.delete_conversation(ALICE, cid)
    with pytest.raises(UnknownParentError):
        await any_store.path_to(ALICE, cid, ids[-1])  # kept, but its conversation is gone


async def test_listing_keeps_start_order_over_store_order(any_store: Store) -> None:
    """A reply takes its place when its stream started, not when it was stored."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None))
    first_start = any_store.reserve_start_time()
    second_start = any_store.reserve_start_time()
    second = await any_store.add_response(
        ALICE, NewResponse(cid, "2", "model", root.response_id, start_time=second_start)
    )
    first = await any_store.add_response(
        ALICE, NewResponse(cid, "1", "model", root.response_id, start_time=first_start)
    )
    assert first.seq > second.seq
    assert await any_store.list_responses(ALICE, cid) == [root, first, second]


# -- concurrency --------------------------------------------------------------------------------


async def test_concurrent_add_response_keeps_every_write(
    any_store: Store, database: DatabaseLocation
) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    roots = [await any_store.add_response(ALICE, human(cid, None, f"root {i}")) for i in range(5)]
    parents = [None, *(r.response_id for r in roots)]
    requests = [human(cid, parents[i % len(parents)], f"message {i}") for i in range(200)]

    added = await asyncio.gather(*(any_store.add_response(ALICE, new) for new in requests))

    assert [r.message for r in added] == [n.message for n in requests]
    assert len({r.seq for r in added}) == 200
    # Each write's time is taken when it is called: creation order is submission order.
    assert all(a.create_time < b.create_time for a, b in pairwise(added))
    assert await any_store.list_responses(ALICE, cid) == [*roots, *added]
    conversation = await any_store.get_conversation(ALICE, cid)
    assert conversation is not None
    assert conversation.response_count == 205
    assert conversation.update_time == added[-1].create_time
    assert count(database, "responses") == 205
    assert await any_store.check_integrity() == []


async def test_two_stores_on_one_database_extend_one_conversation_together(
    any_store: Store, database: DatabaseLocation
) -> None:
    """Two replicas (or two processes on one SQLite file) add under each other's replies."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None, "root"))
    async with another_store(database) as replica:
        stores = (any_store, replica)
        parents = [root.response_id]
        for round_ in range(5):
            added = await asyncio.gather(
                *(
                    stores[i % 2].add_response(
                        ALICE, human(cid, parents[i % len(parents)], f"{round_}.{i}")
                    )
                    for i in range(20)
                )
            )
            parents = [r.response_id for r in added]
        seen = [await store.list_responses(ALICE, cid) for store in stores]
    assert seen[0] == seen[1]
    assert len(seen[0]) == 101
    ids = {r.response_id for r in seen[0]}
    assert all(r.parent_response_id in ids for r in seen[0][1:])
    assert count(database, "responses") == 101


async def test_a_delete_racing_writes_leaves_no_orphan(
    any_store: Store, database: DatabaseLocation
) -> None:
    """A conversation deleted through one store while another adds to it: every write
    either happened before the delete (and went with it) or was refused."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    root = await any_store.add_response(ALICE, human(cid, None))
    async with another_store(database) as replica:

        async def add(i: int) -> str:
            try:
                await any_store.add_response(ALICE, human(cid, root.response_id, f"m{i}"))
            except (UnknownConversationError, UnknownParentError) as error:
                return type(error).__name__
            return "stored"

        writes = [asyncio.create_task(add(i)) for i in range(40)]
        deleted = await replica.delete_conversation(ALICE, cid)
        outcomes = await asyncio.gather(*writes)
    assert deleted
    assert set(outcomes) <= {"stored", "UnknownConversationError"}
    assert count(database, "responses") == 0
    assert await any_store.get_conversation(ALICE, cid) is None


async def test_cancelled_writes_leave_nothing_half_written(
    any_store: Store, database: DatabaseLocation
) -> None:
    """A write cancelled at any point is stored whole (with its tokens) or not at all."""
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    tokens = tuple((f"t{k}", -0.1, ()) for k in range(50))
    tasks = [
        asyncio.create_task(
            any_store.add_response(ALICE, NewResponse(cid, f"m{i}", "model", None, tokens=tokens))
        )
        for i in range(30)
    ]
    for turns, task in enumerate(tasks[::2]):
        for _ in range(turns % 4):
            await asyncio.sleep(0)  # let some writes get further before they are cancelled
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    stored = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, asyncio.CancelledError) for r in results if r not in stored)
    assert len(stored) >= 15
    listed = await any_store.list_responses(ALICE, cid)
    assert {r.response_id for r in stored} <= {r.response_id for r in listed}
    # A write whose commit was under way when its caller was cancelled may be kept; either
    # way a response is never without its tokens.
    assert count(database, "response_tokens") == len(listed) == count(database, "responses")
    for record in listed:
        assert await any_store.response_tokens(ALICE, cid, record.response_id) == list(tokens)
    after = await any_store.add_response(ALICE, human(cid, None, "after"))
    assert await any_store.get_response(ALICE, cid, after.response_id) == after
    assert await any_store.check_integrity() == []


# -- lifecycle ---------------------------------------------------------------------------------


async def test_a_closed_store_refuses_every_call_and_opens_again(
    database: DatabaseLocation,
) -> None:
    store = another_store(database)
    with pytest.raises(Exception, match="store is not open") as refused:
        await store.list_responses(ALICE, "0" * 32)
    assert type(refused.value).__name__ == "StoreClosedError"
    await store.open()
    cid = (await store.create_conversation(ALICE)).conversation_id
    root = await store.add_response(ALICE, human(cid, None))
    await store.close()
    await store.close()  # idempotent

    calls = [
        store.list_responses(ALICE, cid),
        store.get_response(ALICE, cid, root.response_id),
        store.path_to(ALICE, cid, root.response_id),
        store.add_response(ALICE, human(cid, None)),
        store.mark_shared(ALICE, cid, [root.response_id]),
        store.response_tokens(ALICE, cid, root.response_id),
        store.responses_tokens(ALICE, cid, [root.response_id]),
        store.get_leaf(ALICE, cid),
        store.set_leaf(ALICE, cid, None),
        store.annotations(ALICE, cid),
        store.discard_checkpoint("c" * 32),
        store.recover_checkpoints(),
    ]
    for call in calls:
        with pytest.raises(Exception, match="store is closed") as refused:
            await call
        assert type(refused.value).__name__ == "StoreClosedError"

    await store.open()
    try:
        assert await store.list_responses(ALICE, cid) == [root]
    finally:
        await store.close()


async def test_tokens_the_fast_encoder_cannot_write_round_trip(any_store: Store) -> None:
    """A backend's -inf logprob, NaN and a lone surrogate come back as they went in.

    The stored blob is written by orjson when it can; these take the standard encoder
    (orjson would write null for -inf — read back as "no logprob" — and refuses
    surrogates), and the reader takes either.
    """
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    rows = {
        "inf": (("a", float("-inf"), ((" b", float("-inf")),)), ("c", -0.5, ())),
        "surrogate": (("\udcff", -0.25, ()),),
        "plain": (("x", None, ()), ("y", -1.0, (("z", -2.0),))),
    }
    for name, tokens in rows.items():
        reply = await any_store.add_response(
            ALICE, NewResponse(cid, name, "model", None, tokens=tokens)
        )
        assert await any_store.response_tokens(ALICE, cid, reply.response_id) == list(tokens)
    nan = await any_store.add_response(
        ALICE, NewResponse(cid, "nan", "model", None, tokens=(("n", float("nan"), ()),))
    )
    [(text, logprob, top)] = await any_store.response_tokens(ALICE, cid, nan.response_id) or []
    assert (text, top) == ("n", ()) and logprob is not None and logprob != logprob


def test_blobs_of_the_standard_encoder_still_read() -> None:
    """Replies stored before the fast encoder (json at zlib level 6) read as before."""
    import json
    import zlib

    from grove_explorer.server.store.rows import decode_tokens

    old = zlib.compress(json.dumps([["a", -0.5, [["b", -1.5]]], ["c", None, []]]).encode(), 6)
    assert decode_tokens(old) == [("a", -0.5, (("b", -1.5),)), ("c", None, ())]
