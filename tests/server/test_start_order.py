"""Creation order is start order in the store: list_responses, the reply's start time, upgrades."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest

from grove_explorer.server.store import NewResponse, SqliteStore
from grove_explorer.server.store.migrations import MIGRATIONS, migrate

ALICE = "alice"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "grove.sqlite3")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def message(cid: str, parent: str | None, text: str, sender: str = "model") -> NewResponse:
    return NewResponse(conversation_id=cid, message=text, sender=sender, parent_response_id=parent)


async def test_replies_are_listed_by_start_not_by_finish(store: SqliteStore) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    question = await store.add_response(ALICE, message(cid, None, "Why?", "human"))
    assert question.start_time == question.create_time, "not sampled: started when stored"
    first_start = store.reserve_start_time()
    second_start = store.reserve_start_time()
    assert question.create_time < first_start < second_start
    # The reply started second finishes (is stored) first.
    second = await store.add_response(
        ALICE,
        dataclasses.replace(message(cid, question.response_id, "quick"), start_time=second_start),
    )
    first = await store.add_response(
        ALICE,
        dataclasses.replace(message(cid, question.response_id, "slow"), start_time=first_start),
    )
    assert second.seq < first.seq and first.start_time == first_start
    later = await store.add_response(ALICE, message(cid, question.response_id, "manual"))

    listed = await store.list_responses(ALICE, cid)
    assert [r.response_id for r in listed] == [
        question.response_id,
        first.response_id,
        second.response_id,
        later.response_id,
    ]
    assert listed[1] == first


async def test_upgrade_estimates_the_start_of_older_replies(tmp_path: Path) -> None:
    """Replies stored before start times existed start at stored time minus sampling time."""
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:6]) == 6
    rows = [
        # id, parent, sender, create_time, total_time_seconds
        ("q" * 32, None, "human", "2025-01-01T00:00:00.000000+00:00", 0.0),
        # Started at 00:00:01, took 10 s: stored after the quick one.
        ("s" * 32, "q" * 32, "model", "2025-01-01T00:00:11.000000+00:00", 10.0),
        ("k" * 32, "q" * 32, "model", "2025-01-01T00:00:03.500000+00:00", 1.5),
        # Claims to have taken longer than exists since its parent: never before it.
        ("x" * 32, "q" * 32, "model", "2025-01-01T00:00:04.000000+00:00", 99.0),
    ]
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, starred, create_time,"
            " update_time) VALUES (?, ?, '', 0, ?, ?)",
            ("c" * 32, ALICE, rows[0][3], rows[0][3]),
        )
        conn.executemany(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time, total_time_seconds) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
            [
                (rid, "c" * 32, ALICE, parent, sender, t, total)
                for rid, parent, sender, t, total in rows
            ],
        )
    async with SqliteStore(path) as store:
        listed = await store.list_responses(ALICE, "c" * 32)
        by_id = {r.response_id: r for r in listed}
        assert [r.response_id[0] for r in listed] == ["q", "x", "s", "k"]
        assert by_id["s" * 32].start_time.isoformat() == "2025-01-01T00:00:01+00:00"
        assert by_id["x" * 32].start_time == by_id["q" * 32].create_time
        assert by_id["q" * 32].start_time == by_id["q" * 32].create_time

    # A writer that names no start (older code, hand-written SQL) gets the stored time.
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time) VALUES (?, ?, ?, ?, '', 'human', ?)",
            ("n" * 32, "c" * 32, ALICE, "s" * 32, "2025-01-02T00:00:00.000000+00:00"),
        )
        (start,) = conn.execute(
            "SELECT start_time FROM responses WHERE response_id = ?", ("n" * 32,)
        ).fetchone()
    assert start == "2025-01-02T00:00:00.000000+00:00"


def test_imported_titles_are_marked_within_the_limit() -> None:
    from grove_explorer.server.servicer.importing import imported_title

    assert imported_title("Oaks", 200) == "Oaks (imported)"
    assert imported_title("", 200) == "(imported)"
    assert imported_title("Oaks (imported)", 200) == "Oaks (imported)", "not stacked"
    cut = imported_title("x" * 200, 200)
    assert len(cut) == 200 and cut.endswith("x (imported)")
