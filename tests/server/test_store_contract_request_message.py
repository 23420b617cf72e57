"""The Store contract for a request's human message (issue 17), on both stores.

A replica that never heard a reply start finds its conversation from the human message
the same AddResponse stored (`request_message`): by the caller who made it (the owner, or
a writer of a shared conversation), never another user's; a request without a message (a
resample) has none until its reply is stored. SQLite reads it by migration 18's index.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from grove_explorer.server.store import SqliteStore, Store
from grove_explorer.server.store.sqlite.responses import _REQUEST_MESSAGE
from tests.server.test_store_contract_request_ids import ALICE, BOB, new


async def test_a_requests_human_message_is_found_by_its_maker(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    human = await any_store.add_response(ALICE, new(cid, None, "human", "req-1"))
    assert await any_store.request_message(ALICE, "req-1") == human, "before its reply"
    await any_store.add_response(ALICE, new(cid, human.response_id, "model", "req-1"))
    assert await any_store.request_message(ALICE, "req-1") == human, "the message, not the reply"
    assert await any_store.request_message(BOB, "req-1") is None, "another user's"
    assert await any_store.request_message(ALICE, "") is None, "no id names no request"
    await any_store.add_response(ALICE, new(cid, human.response_id, "model", "resample"))
    assert await any_store.request_message(ALICE, "resample") is None, "no message of its own"


async def test_a_writers_message_is_theirs(any_store: Store) -> None:
    cid = (await any_store.create_conversation(ALICE)).conversation_id
    await any_store.grant_access(ALICE, cid, BOB, "writer")
    by_bob = await any_store.add_response(ALICE, new(cid, None, "human", "bobs", author=BOB))
    found = await any_store.request_message(BOB, "bobs")
    assert found is not None and found.response_id == by_bob.response_id
    assert found.conversation_id == cid
    assert await any_store.request_message(ALICE, "bobs") is None, "alice did not write it"


async def test_sqlite_finds_a_message_by_its_index(tmp_path: Path) -> None:
    path = tmp_path / "grove.sqlite3"
    async with SqliteStore(path) as store:
        cid = (await store.create_conversation(ALICE)).conversation_id
        for i in range(20):
            await store.add_response(ALICE, new(cid, None, "human", f"r{i}"))
    with closing(sqlite3.connect(path)) as conn:
        plan = [
            row[3]
            for row in conn.execute(f"EXPLAIN QUERY PLAN {_REQUEST_MESSAGE}", ("r7", ALICE, ALICE))
        ]
    assert any("USING INDEX responses_request_message" in step for step in plan), plan
    assert not {"SCAN r", "SCAN responses"} & set(plan), plan
