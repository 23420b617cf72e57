"""Group commit and grouped reads (server/store/sqlite/grouping.py): same behaviour, fewer trips.

Writes that arrive while the writer is busy share one transaction; reads share one trip
to the reader's thread. What must not change: every acknowledged write is stored, in
arrival order; a write that fails fails only its own caller (with the status a lone
write would get); a read that fails fails only its own caller. Groups are made real here
by holding the writer with a transaction while the calls queue up, so every call below is
certainly in one group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams, StorageFullError
from grove_explorer.client.streams import ModelResponseEvent, UserResponseEvent
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store import (
    NewResponse,
    ResponseRecord,
    StorageFailure,
    UnknownParentError,
)
from grove_explorer.server.store.sqlite import SqliteStore, connection, grouping
from grove_explorer.server.store.sqlite.connection import StoreClosedError

ALICE = "alice"
# SQLite refuses to grow the file past this many pages: a write that needs more fails
# with SQLITE_FULL ("database or disk is full"), as on a real full disk, and only it.
PAGE_CAP_MARGIN = 8
# Far more than PAGE_CAP_MARGIN pages of text; well under the server's message limit.
BIG_MESSAGE = "x" * 200_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as opened:
        yield opened


def human(conversation_id: str, message: str, parent: str | None = None) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=parent
    )


async def until_queued(store: SqliteStore, count: int) -> None:
    """Yields to the loop until `count` writes wait for the next group (no timed wait)."""
    for _ in range(100_000):
        if len(store._pending) >= count:
            return
        await asyncio.sleep(0)  # one turn of the loop: the tasks run to their await
    raise AssertionError(f"{len(store._pending)} writes queued, expected {count}")


async def in_one_group(
    store: SqliteStore, calls: list[Callable[[], Awaitable[ResponseRecord]]]
) -> list[ResponseRecord | BaseException]:
    """Runs `calls` so that their writes queue while the writer is busy: one group."""
    async with store._transaction():
        tasks = [asyncio.create_task(call()) for call in calls]
        await until_queued(store, len(tasks))
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def cap_growth(store: SqliteStore) -> None:
    """Lets the database grow by a few pages only (SQLite's max_page_count)."""
    assert store._writer is not None
    rows = list(await store._writer.execute_fetchall("PRAGMA page_count"))
    await store._writer.execute_fetchall(f"PRAGMA max_page_count = {rows[0][0] + PAGE_CAP_MARGIN}")


async def test_simultaneous_writes_are_all_stored_in_arrival_order(store: SqliteStore) -> None:
    conversations = [(await store.create_conversation(ALICE)).conversation_id for _ in range(3)]
    calls = [
        (lambda cid=cid, i=i: store.add_response(ALICE, human(cid, f"m{i}")))
        for i in range(30)
        for cid in conversations
    ]
    results = await in_one_group(store, calls)

    assert all(isinstance(r, ResponseRecord) for r in results)
    for cid in conversations:
        listed = await store.list_responses(ALICE, cid)
        assert [r.message for r in listed] == [f"m{i}" for i in range(30)]
        assert [r.response_id for r in listed] == [
            r.response_id
            for r in results
            if isinstance(r, ResponseRecord) and r.conversation_id == cid
        ]
    times = [r.create_time for r in results if isinstance(r, ResponseRecord)]
    assert times == sorted(times) and len(set(times)) == len(times)


async def test_a_full_database_fails_only_the_write_that_needs_room(store: SqliteStore) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    await cap_growth(store)
    messages = ["before", BIG_MESSAGE, "after", "last"]
    results = await in_one_group(
        store, [(lambda m=m: store.add_response(ALICE, human(cid, m))) for m in messages]
    )

    failure = results[1]
    assert isinstance(failure, StorageFailure) and failure.kind == "full"
    stored = [r for r in results if isinstance(r, ResponseRecord)]
    assert [r.message for r in stored] == ["before", "after", "last"]
    assert [r.message for r in await store.list_responses(ALICE, cid)] == [
        "before",
        "after",
        "last",
    ]
    assert await store.check_integrity() == []


async def test_a_write_that_fails_half_way_is_undone_and_the_others_kept(
    store: SqliteStore,
) -> None:
    # Its response row fits; its tokens (random, so they do not compress) do not: the row
    # written before the failure must go, the other writes of the group must stay.
    cid = (await store.create_conversation(ALICE)).conversation_id
    await cap_growth(store)
    heavy = dataclasses.replace(
        human(cid, "heavy"),
        sender="model",
        tokens=tuple((secrets.token_hex(32), -1.0, ()) for _ in range(5000)),
    )
    calls = [
        lambda: store.add_response(ALICE, human(cid, "one")),
        lambda: store.add_response(ALICE, heavy),
        lambda: store.add_response(ALICE, human(cid, "two")),
    ]
    results = await in_one_group(store, calls)

    assert isinstance(results[1], StorageFailure) and results[1].kind == "full"
    listed = await store.list_responses(ALICE, cid)
    assert [r.message for r in listed] == ["one", "two"]
    assert [r.response_id for r in listed] == [
        r.response_id for r in (results[0], results[2]) if isinstance(r, ResponseRecord)
    ]
    assert await store.check_integrity() == []


async def test_a_write_that_raises_after_writing_leaves_nothing(store: SqliteStore) -> None:
    # A write that stored a row and then raised (the transaction still open) must leave no
    # row; the writes grouped with it must stay.
    cid = (await store.create_conversation(ALICE)).conversation_id

    def half_then_fail(conn: sqlite3.Connection, now: object) -> ResponseRecord:
        conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, starred,"
            " create_time, update_time) VALUES ('half', ?, 'half', 0, '', '')",
            (ALICE,),
        )
        raise RuntimeError("failed after writing")

    calls = [
        lambda: store.add_response(ALICE, human(cid, "one")),
        lambda: store._write(half_then_fail),
        lambda: store.add_response(ALICE, human(cid, "two")),
    ]
    results = await in_one_group(store, calls)

    assert isinstance(results[1], RuntimeError)
    assert await store.get_conversation(ALICE, "half") is None
    assert [r.message for r in await store.list_responses(ALICE, cid)] == ["one", "two"]


async def test_a_refused_insert_fails_only_its_caller(store: SqliteStore) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    calls = [
        lambda: store.add_response(ALICE, human(cid, "one")),
        lambda: store.add_response(ALICE, human(cid, "orphan", parent="no-such-response")),
        lambda: store.add_response(ALICE, human(cid, "two")),
    ]
    results = await in_one_group(store, calls)

    assert isinstance(results[1], UnknownParentError)
    assert [r.message for r in await store.list_responses(ALICE, cid)] == ["one", "two"]


async def test_a_failing_read_fails_only_its_caller(store: SqliteStore) -> None:
    cids = [(await store.create_conversation(ALICE)).conversation_id for _ in range(5)]
    reads = [store.get_conversation(ALICE, cid) for cid in cids]
    bad = store._read("SELECT no_such_column FROM conversations")
    results = await asyncio.gather(*reads, bad, return_exceptions=True)

    assert [r.conversation_id for r in results[:5]] == cids  # type: ignore[union-attr]
    assert isinstance(results[5], sqlite3.OperationalError)


async def test_reads_that_arrive_together_share_trips_to_the_reader(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cids = [(await store.create_conversation(ALICE)).conversation_id for _ in range(20)]
    trips: list[int] = []

    def counted(conn: sqlite3.Connection, reads: list[tuple[str, object]]) -> list[object]:
        trips.append(len(reads))
        return grouping.run_reads(conn, reads)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "run_reads", counted)
    records = await asyncio.gather(*(store.get_conversation(ALICE, cid) for cid in cids))

    assert [r.conversation_id for r in records] == cids  # type: ignore[union-attr]
    # The first read leaves at once; the others, arriving while it is away, go together.
    assert sum(trips) == 20 and len(trips) <= 2


async def test_a_caller_that_gives_up_leaves_the_other_reads_of_its_trip_answered(
    store: SqliteStore,
) -> None:
    cids = [(await store.create_conversation(ALICE)).conversation_id for _ in range(4)]
    tasks = [asyncio.ensure_future(store.get_conversation(ALICE, cid)) for cid in cids]
    await asyncio.sleep(0)  # every read is on its way (the first trip, or waiting for the next)
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[1], asyncio.CancelledError)
    assert [r.conversation_id for i, r in enumerate(results) if i != 1] == [  # type: ignore[union-attr]
        cid for i, cid in enumerate(cids) if i != 1
    ]
    # The reader is not left busy: later reads still get their answers.
    assert (await store.get_conversation(ALICE, cids[1])) is not None


async def test_closing_answers_the_reads_under_way_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "closing.sqlite3")
    await store.open()
    cids = [(await store.create_conversation(ALICE)).conversation_id for _ in range(6)]
    reads = [asyncio.ensure_future(store.get_conversation(ALICE, cid)) for cid in cids]
    await asyncio.sleep(0)
    await store.close()

    assert [(await r).conversation_id for r in reads] == cids  # type: ignore[union-attr]
    with pytest.raises(StoreClosedError):
        await store.get_conversation(ALICE, cids[0])


async def test_over_grpc_a_full_database_fails_only_its_own_stream(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server(token_delay_ms=0.0)
    await server.start()
    try:
        store = server.store
        assert isinstance(store, SqliteStore)
        async with Client(api_host=server.address) as sdk:
            conversations = [sdk.grok.create_conversation() for _ in range(4)]
            for conversation in conversations:
                await conversation.ensure_created()
            await cap_growth(store)
            messages = ["Tell me about oaks.", BIG_MESSAGE, "And elms?", "And ash?"]

            async def sample(index: int) -> list[object]:
                stream = conversations[index].sample(
                    messages[index], parent_response_id=None, sampling=SamplingParams(max_tokens=3)
                )
                return [event async for event in stream]

            async with store._transaction():
                tasks = [asyncio.create_task(sample(i)) for i in range(4)]
                await until_queued(store, len(tasks))
            results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await server.stop()

    failure = results[1]
    assert isinstance(failure, StorageFullError)
    assert failure.message.endswith(".") and "Error" not in failure.message
    for index in (0, 2, 3):
        events = results[index]
        assert isinstance(events, list)
        humans = [e for e in events if isinstance(e, UserResponseEvent)]
        replies = [e for e in events if isinstance(e, ModelResponseEvent)]
        assert [e.response.message for e in humans] == [messages[index]]
        assert len(replies) == 1 and not replies[0].response.partial
