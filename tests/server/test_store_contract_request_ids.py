"""The Store contract for request ids (issue 17), on both stores.

A sampled reply and its human message keep the request id of the AddResponse that made
them, written by the insert itself; `request_responses` finds the reply (and the human
message it answers) by the caller who made them (the owner, or a writer of a shared
conversation), never another user's, and nothing while no reply is stored. A crash's
checkpoint keeps the id, so the partial reply recovered from it is found too.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

from grove_explorer.server.store import Checkpoint, NewResponse, SqliteStore, Store
from grove_explorer.server.store.sqlite.responses import _REQUEST_RESPONSES

ALICE = "alice"
BOB = "bob"


def new(
    cid: str, parent: str | None, sender: str, request_id: str, **fields: object
) -> NewResponse:
    return NewResponse(
        conversation_id=cid,
        message=f"{sender} text",
        sender=sender,
        parent_response_id=parent,
        request_id=request_id,
        **fields,  # type: ignore[arg-type]
    )


def everyone_gone(owner: str, updated: datetime) -> bool:
    return True


async def test_a_requests_responses_are_found_in_order_by_their_maker(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    human = await any_store.add_response(ALICE, new(cid, None, "human", "req-1"))
    reply = await any_store.add_response(
        ALICE, new(cid, human.response_id, "model", "req-1", tokens=(("model", -0.5, ()),))
    )
    other = await any_store.add_response(ALICE, new(cid, reply.response_id, "model", "req-2"))
    await any_store.add_response(ALICE, new(cid, reply.response_id, "model", ""))
    assert reply.request_id == "req-1"
    lone = await any_store.add_response(ALICE, new(cid, None, "model", "req-4"))  # no message

    found = await any_store.request_responses(ALICE, "req-1")
    assert [r.response_id for r in found] == [human.response_id, reply.response_id]
    assert found[1] == reply, "read back as stored"
    assert [r.response_id for r in await any_store.request_responses(ALICE, "req-2")] == [
        other.response_id
    ]
    assert await any_store.request_responses(ALICE, "req-4") == [lone]
    assert await any_store.request_responses(ALICE, "req-3") == []
    assert await any_store.request_responses(ALICE, "") == [], "no id names no request"
    assert await any_store.request_responses(BOB, "req-1") == [], "another user's"
    listed = await any_store.list_responses(ALICE, cid)
    assert [r.request_id for r in listed] == ["req-1", "req-1", "req-2", "", "req-4"]


async def test_a_request_id_used_twice_finds_its_latest_reply(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    first = await any_store.add_response(ALICE, new(cid, None, "human", "again"))
    await any_store.add_response(ALICE, new(cid, first.response_id, "model", "again"))
    latest = await any_store.add_response(ALICE, new(cid, first.response_id, "model", "again"))
    found = await any_store.request_responses(ALICE, "again")
    assert [r.response_id for r in found] == [first.response_id, latest.response_id]


async def test_a_writers_request_is_theirs_not_the_owners(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    await any_store.grant_access(ALICE, cid, BOB, "writer")
    root = await any_store.add_response(ALICE, new(cid, None, "human", "shared-id"))
    by_bob = await any_store.add_response(
        ALICE, new(cid, root.response_id, "model", "bobs-id", author=BOB)
    )
    assert [r.response_id for r in await any_store.request_responses(BOB, "bobs-id")] == [
        by_bob.response_id
    ]
    assert await any_store.request_responses(ALICE, "bobs-id") == [], "alice did not make it"
    assert await any_store.request_responses(BOB, "shared-id") == [], "bob did not make it"


async def test_a_recovered_checkpoint_keeps_its_request_id(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    human = await any_store.add_response(ALICE, new(cid, None, "human", "req-9"))
    running = new(
        cid, human.response_id, "model", "req-9", start_time=any_store.reserve_start_time()
    )
    await any_store.save_checkpoints([Checkpoint("c" * 32, ALICE, running)], owner="dead")
    assert await any_store.request_responses(ALICE, "req-9") == [], "no reply stored yet"

    (recovered,) = await any_store.recover_checkpoints(everyone_gone)
    found = await any_store.request_responses(ALICE, "req-9")
    assert [r.response_id for r in found] == [human.response_id, recovered.response_id]
    assert found[1].partial and found[1].finish_reason == "interrupted"


async def test_deleting_the_conversation_forgets_its_requests(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    human = await any_store.add_response(ALICE, new(cid, None, "human", "req-1"))
    await any_store.add_response(ALICE, new(cid, human.response_id, "model", "req-1"))
    assert len(await any_store.request_responses(ALICE, "req-1")) == 2
    assert await any_store.delete_conversation(ALICE, cid)
    assert await any_store.request_responses(ALICE, "req-1") == []


async def test_sqlite_finds_a_request_by_indexes_alone(tmp_path: Path) -> None:
    """The plan reads the request index and unique ids, never a scan of every response."""
    path = tmp_path / "grove.sqlite3"
    async with SqliteStore(path) as store:
        cid = (await store.create_conversation(ALICE)).conversation_id
        parent = None
        for i in range(20):
            human = await store.add_response(ALICE, new(cid, parent, "human", f"r{i}"))
            reply = await store.add_response(ALICE, new(cid, human.response_id, "model", f"r{i}"))
            parent = reply.response_id
    with closing(sqlite3.connect(path)) as conn:
        plan = [
            row[3]
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN {_REQUEST_RESPONSES}", ("r7", ALICE, ALICE, "r7")
            )
        ]
    assert any("USING INDEX responses_request" in step for step in plan), plan
    assert not {"SCAN r", "SCAN responses"} & set(plan), plan  # ("SCAN reply": its one row)
