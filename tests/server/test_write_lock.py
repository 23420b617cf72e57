"""The writer's lock and the run of group commits without a task (connection.py, grouping.py).

A group commit is sent from a callback, in the loop turn its first write arrives in, and the
next group leaves in the turn the previous one is back. What must hold: the lock is FIFO
between transactions and groups (arrival order), a transaction waiting for the lock gets
it even while writes keep arriving (no starvation), a caller that gives up while waiting
passes the lock on, and closing writes every accepted write first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.server.store import NewResponse, ResponseRecord
from grove_explorer.server.store.sqlite import SqliteStore, connection, grouping
from grove_explorer.server.store.sqlite.connection import StoreClosedError
from grove_explorer.server.store.sqlite.grouping import WriteLock

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


# -- the lock ------------------------------------------------------------------------------


async def test_the_lock_goes_in_arrival_order_to_transactions_and_groups() -> None:
    lock = WriteLock()
    order: list[str] = []
    assert lock.try_take() and lock.locked()
    assert not lock.try_take(), "held: nobody takes it without waiting"

    async def transaction(name: str) -> None:
        await lock.hold()
        order.append(name)
        lock.release()

    first = asyncio.create_task(transaction("first"))
    await turns()
    lock.queue(lambda: order.append("group"))
    second = asyncio.create_task(transaction("second"))
    await turns()
    assert order == [] and lock.waited_for()

    lock.release()  # to "first", which releases to the group, which keeps it...
    await first
    assert order == ["first", "group"] and lock.locked()
    lock.release()  # ...until the group releases it, to "second"
    await second
    assert order == ["first", "group", "second"]
    assert not lock.locked() and not lock.waited_for()


async def test_a_free_lock_runs_a_queued_group_at_once() -> None:
    lock = WriteLock()
    ran: list[bool] = []
    lock.queue(lambda: ran.append(lock.locked()))
    assert ran == [True]
    lock.release()
    assert not lock.locked()


async def test_a_waiter_that_gives_up_is_skipped_and_the_lock_passed_on() -> None:
    lock = WriteLock()
    assert lock.try_take()
    quitter = asyncio.create_task(lock.hold())
    stayer = asyncio.create_task(lock.hold())
    await turns()
    quitter.cancel()
    await turns()
    lock.release()
    await stayer
    assert quitter.cancelled() and lock.locked()
    lock.release()
    assert not lock.locked()


async def test_a_waiter_cancelled_as_it_is_handed_the_lock_passes_it_on() -> None:
    lock = WriteLock()
    assert lock.try_take()
    unlucky = asyncio.create_task(lock.hold())
    next_in_line = asyncio.create_task(lock.hold())
    await turns()
    lock.release()  # handed to `unlucky`, which is cancelled before it resumes
    unlucky.cancel()
    await asyncio.wait_for(next_in_line, 5)
    assert unlucky.cancelled() and lock.locked()
    lock.release()
    assert not lock.locked()


# -- group commits on the store ------------------------------------------------------------


async def test_a_lone_write_leaves_without_a_task_and_frees_the_lock(store: SqliteStore) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    tasks_before = len(asyncio.all_tasks())
    write = asyncio.ensure_future(store.add_response(ALICE, human(cid, "hello")))
    await asyncio.sleep(0)  # the write is queued; its group leaves at the end of the turn
    assert not store._write_lock.locked() and store._commit_queued
    await asyncio.sleep(0)  # the write is on the writer's thread now
    assert store._write_lock.locked() and store._commit_trip is not None
    assert len(asyncio.all_tasks()) == tasks_before + 1, "only the caller's own task"
    record = await write
    assert record.message == "hello"
    assert not store._write_lock.locked() and store._commit_trip is None


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
        assert len(store._pending) == 5 and store._commit_queued
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
