"""Group commits and transactions share the writer in arrival order (connection.py).

What must hold: the writes of one loop turn go in one group, a transaction waiting for the
writer gets it even while writes keep arriving (no starvation), writes queued behind a
transaction go after it and before a transaction that came later, and closing writes
every accepted write first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.server.store import NewResponse, ResponseRecord
from grove_explorer.server.store.sqlite import SqliteStore, connection, grouping
from grove_explorer.server.store.sqlite.connection import StoreClosedError

ALICE = "alice"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as opened:
        yield opened


def human(conversation_id: str, message: str) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=None
    )


async def turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


# -- group commits on the store ------------------------------------------------------------


async def test_a_waiting_transaction_gets_in_while_writes_keep_coming(store: SqliteStore) -> None:
    """Writes arriving all the time must not keep a transaction out (the run lets it go)."""
    cid = (await store.create_conversation(ALICE)).conversation_id
    stop = asyncio.Event()
    running = asyncio.Event()
    written: list[ResponseRecord] = []

    async def writer(name: str) -> None:
        count = 0
        while not stop.is_set():
            written.append(await store.add_response(ALICE, human(cid, f"{name}{count}")))
            count += 1
            if len(written) >= 8:
                running.set()

    writers = [asyncio.create_task(writer(f"w{i}-")) for i in range(4)]
    await running.wait()
    # A transaction (as set_title's) needs the lock while the writers never pause.
    titled = await asyncio.wait_for(store.update_conversation(ALICE, cid, "mid-run", False), 30)
    stop.set()
    await asyncio.gather(*writers)
    assert titled is not None and titled.title == "mid-run"
    listed = await store.list_responses(ALICE, cid)
    assert sorted(r.response_id for r in listed) == sorted(r.response_id for r in written)


async def test_writes_queued_behind_a_transaction_go_after_it_in_one_group(
    store: SqliteStore,
) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    async with store._transaction():
        writes = [
            asyncio.ensure_future(store.add_response(ALICE, human(cid, f"m{i}"))) for i in range(5)
        ]
        await turns()
        assert len(store._pending) == 5
        # Another transaction arriving now waits behind the queued group.
        later = asyncio.ensure_future(store.update_conversation(ALICE, cid, "after", False))
        await turns()
        assert not later.done()
    records = await asyncio.gather(*writes)
    titled = await later
    assert [r.message for r in records] == [f"m{i}" for i in range(5)]
    assert titled is not None and titled.update_time > records[-1].create_time


async def test_closing_writes_what_was_accepted_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "closing.sqlite3")
    await store.open()
    cid = (await store.create_conversation(ALICE)).conversation_id
    holder_in = asyncio.Event()
    holder_out = asyncio.Event()

    async def hold_writer() -> None:
        async with store._transaction():
            holder_in.set()
            await holder_out.wait()

    holder = asyncio.create_task(hold_writer())
    await holder_in.wait()
    writes = [
        asyncio.ensure_future(store.add_response(ALICE, human(cid, f"m{i}"))) for i in range(3)
    ]
    await turns()
    closing = asyncio.create_task(store.close())
    await turns()
    holder_out.set()
    await holder
    await closing
    assert [(await w).message for w in writes] == ["m0", "m1", "m2"]
    with pytest.raises(StoreClosedError):
        await store.add_response(ALICE, human(cid, "late"))
    async with SqliteStore(tmp_path / "closing.sqlite3") as reopened:
        listed = await reopened.list_responses(ALICE, cid)
    assert [r.message for r in listed] == ["m0", "m1", "m2"]


async def test_the_writes_of_one_loop_turn_share_one_group(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes made in one loop turn leave together, the first one not alone."""
    cid = (await store.create_conversation(ALICE)).conversation_id
    groups: list[int] = []

    def counted(conn: object, jobs: list[object]) -> object:
        groups.append(len(jobs))
        return grouping.run_group(conn, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "run_group", counted)
    # gather starts all 20 tasks in the same turn: each reaches its write in that turn.
    records = await asyncio.gather(
        *(store.add_response(ALICE, human(cid, f"m{i}")) for i in range(20))
    )
    assert groups == [20]
    assert [r.message for r in records] == [f"m{i}" for i in range(20)]
