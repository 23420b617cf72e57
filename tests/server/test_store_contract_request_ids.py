"""The Store contract for request ids (issue 17), on both stores.

A sampled reply and its human message keep the request id of the AddResponse that made
them, written by the insert itself; `request_responses` finds them by the caller who made
them (the owner, or a writer of a shared conversation), never another user's. A crash's
checkpoint keeps the id, so the partial reply recovered from it is found too.
"""

from __future__ import annotations

from datetime import datetime

from grove_explorer.server.store import Checkpoint, NewResponse, Store

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

    found = await any_store.request_responses(ALICE, "req-1")
    assert [r.response_id for r in found] == [human.response_id, reply.response_id]
    assert found[1] == reply, "read back as stored"
    assert [r.response_id for r in await any_store.request_responses(ALICE, "req-2")] == [
        other.response_id
    ]
    assert await any_store.request_responses(ALICE, "req-3") == []
    assert await any_store.request_responses(ALICE, "") == [], "no id names no request"
    assert await any_store.request_responses(BOB, "req-1") == [], "another user's"
    listed = await any_store.list_responses(ALICE, cid)
    assert [r.request_id for r in listed] == ["req-1", "req-1", "req-2", ""]


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
    assert [r.sender for r in await any_store.request_responses(ALICE, "req-9")] == ["human"]

    (recovered,) = await any_store.recover_checkpoints(everyone_gone)
    found = await any_store.request_responses(ALICE, "req-9")
    assert [r.response_id for r in found] == [human.response_id, recovered.response_id]
    assert found[1].partial and found[1].finish_reason == "interrupted"


async def test_deleting_the_conversation_forgets_its_requests(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    await any_store.add_response(ALICE, new(cid, None, "human", "req-1"))
    assert await any_store.delete_conversation(ALICE, cid)
    assert await any_store.request_responses(ALICE, "req-1") == []
