"""WAL checkpoints run on their own connection, never inside the writer's commits (wal.py).

What must hold: a commit never copies pages into the database file (the writer's
automatic checkpoint is off), the background checkpoint does, everything written is read
back before and after it and after reopening, and closing waits for a checkpoint under way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.server.store import NewResponse
from grove_explorer.server.store.sqlite import SqliteStore

ALICE = "alice"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "grove.sqlite3") as opened:
        yield opened


def human(conversation_id: str, message: str) -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=None
    )


def wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def checkpoint_done(store: SqliteStore) -> None:
    assert store._wal is not None
    trip = store._wal._trip
    if trip is not None:
        await trip


async def test_commits_leave_the_pages_in_the_wal_and_the_checkpointer_copies_them(
    store: SqliteStore,
) -> None:
    assert store._wal is not None
    await checkpoint_done(store)
    store._wal._interval = 3600.0  # no background checkpoint for now
    store._wal._last = asyncio.get_running_loop().time()
    rows = list(await store._writer.execute_fetchall("PRAGMA wal_autocheckpoint"))  # type: ignore[union-attr]
    assert rows[0][0] == 0
    size = store.path.stat().st_size
    cid = (await store.create_conversation(ALICE)).conversation_id
    # Far more than SQLite's 1,000-page threshold, group-committed and alone.
    big = "leaf " * 4000
    await asyncio.gather(*(store.add_response(ALICE, human(cid, f"{i} {big}")) for i in range(300)))
    for i in range(50):
        await store.add_response(ALICE, human(cid, f"alone {i}"))
    assert store.path.stat().st_size == size, "a commit copied pages into the database file"
    assert len(await store.list_responses(ALICE, cid)) == 350  # read from the WAL

    store._wal._interval = 0.0
    ran = store._wal.checkpoints
    await store.add_response(ALICE, human(cid, "the next write starts a checkpoint"))
    await checkpoint_done(store)
    assert store._wal.checkpoints == ran + 1
    assert store.path.stat().st_size > size + 300 * len(big), "the checkpoint copied them"
    assert len(await store.list_responses(ALICE, cid)) == 351


async def test_everything_is_there_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "reopen.sqlite3"
    async with SqliteStore(path) as store:
        assert store._wal is not None
        store._wal._interval = 0.0
        cid = (await store.create_conversation(ALICE)).conversation_id
        await asyncio.gather(*(store.add_response(ALICE, human(cid, f"m{i}")) for i in range(40)))
        # Closing while a checkpoint may be under way waits for it.
    async with SqliteStore(path) as again:
        messages = sorted(r.message for r in await again.list_responses(ALICE, cid))
    assert messages == sorted(f"m{i}" for i in range(40))
    assert wal_bytes(path) == 0, "the last connection to close checkpointed the rest"


async def test_a_read_only_store_has_no_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_conversation(ALICE)
    async with SqliteStore(path, read_only=True) as reading:
        assert reading._wal is None
        assert len(await reading.list_conversations(ALICE)) == 1
