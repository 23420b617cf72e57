"""Tests of the SQLite store against a real database file.

Row counts and PRAGMAs are checked through an independent `sqlite3` connection, so the
tests do not merely trust what the store says about itself.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from grove_explorer.server.store import (
    AnnotationRecord,
    Checkpoint,
    ImportItem,
    NewResponse,
    SamplingRecord,
    SearchFilters,
    SqliteStore,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    SchemaVersionError,
    current_version,
    migrate,
)
from grove_explorer.server.store.sqlite import StoreClosedError

ALICE = "alice"
BOB = "bob"


# -- helpers -----------------------------------------------------------------------------


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """An independent connection to the store's file (WAL lets it read beside the store)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def scalar(path: Path, sql: str, *params: Any) -> Any:
    with raw(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def count_responses(path: Path) -> int:
    return int(scalar(path, "SELECT COUNT(*) FROM responses"))


def human(conversation_id: str, parent: str | None, message: str = "hi") -> NewResponse:
    return NewResponse(
        conversation_id=conversation_id, message=message, sender="human", parent_response_id=parent
    )


def seed_chain(path: Path, user_id: str, conversation_id: str, depth: int) -> list[str]:
    """Writes a chain of `depth` responses directly, far faster than one RPC-sized write each."""
    ids = [uuid.uuid4().hex for _ in range(depth)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        (
            response_id,
            conversation_id,
            user_id,
            ids[i - 1] if i else None,
            f"message {i}",
            "human" if i % 2 == 0 else "model",
            (start + timedelta(microseconds=i)).isoformat(timespec="microseconds"),
        )
        for i, response_id in enumerate(ids)
    ]
    with raw(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    return ids


def search_index_problems(conn: sqlite3.Connection) -> list[str]:
    """How the search index differs from what the tables say it must hold ([] if nothing).

    One row per conversation title, per response message, and per annotation a tag row
    (its tags joined by spaces) and a note row, each with the owner's user id; every row's
    text in `search_text` under the same rowid, and no text without a row. Shared with the
    server-level tests, which check the index after what their RPCs did.
    """
    expected: Counter[tuple[Any, ...]] = Counter()
    for cid, user, title in conn.execute(
        "SELECT conversation_id, user_id, title FROM conversations"
    ):
        expected[("title", cid, cid, user, title)] += 1
    for rid, cid, user, message in conn.execute(
        "SELECT response_id, conversation_id, user_id, message FROM responses"
    ):
        expected[("message", rid, cid, user, message)] += 1
    for rid, cid, user, tags, note in conn.execute(
        "SELECT a.response_id, r.conversation_id, a.user_id, a.tags, a.note"
        " FROM annotations AS a JOIN responses AS r ON r.response_id = a.response_id"
    ):
        words = " ".join(sorted(json.loads(tags)))
        expected[("tag", rid, cid, user, words)] += 1
        expected[("note", rid, cid, user, note)] += 1
    actual: Counter[tuple[Any, ...]] = Counter()
    for kind, ref, cid, user, text in conn.execute(
        "SELECT s.kind, s.ref_id, s.conversation_id, s.user_id, t.text"
        " FROM search_rows AS s LEFT JOIN search_text AS t ON t.rowid = s.id"
    ):
        if kind == "tag" and text is not None:
            text = " ".join(sorted(text.split(" "))) if text else ""
        actual[(kind, ref, cid, user, text)] += 1
    problems = [f"missing from the index: {row}" for row in expected - actual]
    problems += [f"stale in the index: {row}" for row in actual - expected]
    orphans = conn.execute(
        "SELECT COUNT(*) FROM search_text WHERE rowid NOT IN (SELECT id FROM search_rows)"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} texts in search_text without a search_rows row")
    return problems


def index_problems_of(path: Path) -> list[str]:
    with raw(path) as conn:
        return search_index_problems(conn)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "grove.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


# -- conversations -----------------------------------------------------------------------


async def test_create_and_get_conversation(store: SqliteStore) -> None:
    before = datetime.now(UTC)
    created = await store.create_conversation(ALICE, "First")

    assert len(created.conversation_id) == 32
    assert created.user_id == ALICE
    assert created.title == "First"
    assert created.starred is False
    assert created.response_count == 0
    assert created.create_time.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created.create_time <= datetime.now(UTC)
    assert created.update_time == created.create_time

    assert await store.get_conversation(ALICE, created.conversation_id) == created
    untitled = await store.create_conversation(ALICE)
    assert untitled.title == ""
    assert untitled.conversation_id != created.conversation_id


async def test_get_missing_conversation_is_none(store: SqliteStore) -> None:
    assert await store.get_conversation(ALICE, "no-such-conversation") is None


async def test_list_conversations_newest_update_first_with_counts(store: SqliteStore) -> None:
    first = await store.create_conversation(ALICE, "a")
    second = await store.create_conversation(ALICE, "b")
    third = await store.create_conversation(ALICE, "c")
    listed = await store.list_conversations(ALICE)
    assert [c.conversation_id for c in listed] == [
        third.conversation_id,
        second.conversation_id,
        first.conversation_id,
    ]

    root = await store.add_response(ALICE, human(first.conversation_id, None))
    await store.add_response(ALICE, human(first.conversation_id, root.response_id))
    listed = await store.list_conversations(ALICE)
    assert listed[0].conversation_id == first.conversation_id
    assert {c.conversation_id: c.response_count for c in listed} == {
        first.conversation_id: 2,
        second.conversation_id: 0,
        third.conversation_id: 0,
    }

    await store.update_conversation(ALICE, second.conversation_id, "b2", True)
    listed = await store.list_conversations(ALICE)
    assert [c.conversation_id for c in listed] == [
        second.conversation_id,
        first.conversation_id,
        third.conversation_id,
    ]
    assert [c.update_time for c in listed] == sorted((c.update_time for c in listed), reverse=True)


async def test_update_conversation_sets_fields_and_bumps_update_time(store: SqliteStore) -> None:
    created = await store.create_conversation(ALICE, "old")
    root = await store.add_response(ALICE, human(created.conversation_id, None))

    updated = await store.update_conversation(ALICE, created.conversation_id, "new", True)

    assert updated is not None
    assert updated.title == "new"
    assert updated.starred is True
    assert updated.create_time == created.create_time
    assert updated.update_time > root.create_time > created.update_time
    assert updated.response_count == 1
    assert await store.get_conversation(ALICE, created.conversation_id) == updated

    unstarred = await store.update_conversation(ALICE, created.conversation_id, "new", False)
    assert unstarred is not None and unstarred.starred is False


async def test_update_missing_conversation_is_none(store: SqliteStore) -> None:
    assert await store.update_conversation(ALICE, "missing", "t", True) is None


async def test_delete_conversation_cascades_to_its_responses_only(
    store: SqliteStore, db_path: Path
) -> None:
    doomed = await store.create_conversation(ALICE)
    kept = await store.create_conversation(ALICE)
    parent = None
    for _ in range(5):
        parent = (
            await store.add_response(ALICE, human(doomed.conversation_id, parent))
        ).response_id
    kept_root = await store.add_response(ALICE, human(kept.conversation_id, None))

    assert await store.delete_conversation(ALICE, doomed.conversation_id) is True

    assert await store.get_conversation(ALICE, doomed.conversation_id) is None
    assert await store.list_responses(ALICE, doomed.conversation_id) == []
    assert [c.conversation_id for c in await store.list_conversations(ALICE)] == [
        kept.conversation_id
    ]
    assert (
        scalar(
            db_path,
            "SELECT COUNT(*) FROM responses WHERE conversation_id = ?",
            doomed.conversation_id,
        )
        == 0
    )
    assert await store.list_responses(ALICE, kept.conversation_id) == [kept_root]
    assert await store.delete_conversation(ALICE, doomed.conversation_id) is False


# -- user isolation ----------------------------------------------------------------------


async def test_another_users_conversation_behaves_as_missing(
    store: SqliteStore, db_path: Path
) -> None:
    mine = await store.create_conversation(ALICE, "private")
    cid = mine.conversation_id
    root = await store.add_response(ALICE, human(cid, None))
    child = await store.add_response(ALICE, human(cid, root.response_id))
    before = await store.get_conversation(ALICE, cid)
    rows_before = count_responses(db_path)

    assert await store.get_conversation(BOB, cid) is None
    assert await store.list_conversations(BOB) == []
    assert await store.update_conversation(BOB, cid, "stolen", True) is None
    assert await store.delete_conversation(BOB, cid) is False
    assert await store.list_responses(BOB, cid) == []
    assert await store.get_response(BOB, cid, root.response_id) is None
    with pytest.raises(UnknownParentError):
        await store.path_to(BOB, cid, child.response_id)
    with pytest.raises(UnknownConversationError):
        await store.add_response(BOB, human(cid, None))
    with pytest.raises(UnknownConversationError):
        await store.add_response(BOB, human(cid, root.response_id))
    assert await store.mark_shared(BOB, cid, [root.response_id, child.response_id]) == 0

    # Nothing of Alice's changed, and nothing was written for Bob.
    assert await store.get_conversation(ALICE, cid) == before
    assert await store.list_responses(ALICE, cid) == [root, child]
    assert count_responses(db_path) == rows_before
    assert await store.path_to(ALICE, cid, child.response_id) == [root, child]


async def test_same_ids_under_two_users_do_not_mix(store: SqliteStore) -> None:
    alices = await store.create_conversation(ALICE, "a")
    bobs = await store.create_conversation(BOB, "b")
    await store.add_response(ALICE, human(alices.conversation_id, None))

    assert [c.title for c in await store.list_conversations(ALICE)] == ["a"]
    assert await store.list_conversations(BOB) == [bobs]
    assert bobs.response_count == 0


# -- responses ---------------------------------------------------------------------------


async def test_add_response_round_trips_every_field(store: SqliteStore) -> None:
    conversation = await store.create_conversation(ALICE)
    cid = conversation.conversation_id
    question = await store.add_response(ALICE, human(cid, None, "What is a tree?"))
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
    )

    answer = await store.add_response(ALICE, new)

    assert answer.seq > question.seq
    assert answer.parent_response_id == question.response_id
    assert answer.shared is False
    assert (answer.message, answer.sender, answer.manual, answer.partial) == (
        new.message,
        "model",
        True,
        True,
    )
    assert (answer.query, answer.query_type, answer.model_name) == ("trees", "search", "offline-1")
    assert answer.sampling == new.sampling
    assert (answer.token_count, answer.time_to_first_token_seconds, answer.total_time_seconds) == (
        7,
        0.125,
        1.5,
    )
    assert answer.create_time.utcoffset() == timedelta(0)
    assert await store.get_response(ALICE, cid, answer.response_id) == answer
    assert await store.list_responses(ALICE, cid) == [question, answer]
    refreshed = await store.get_conversation(ALICE, cid)
    assert refreshed is not None
    assert refreshed.update_time == answer.create_time
    assert refreshed.response_count == 2


async def test_get_response_of_other_conversation_is_none(store: SqliteStore) -> None:
    one = await store.create_conversation(ALICE)
    two = await store.create_conversation(ALICE)
    response = await store.add_response(ALICE, human(one.conversation_id, None))
    assert await store.get_response(ALICE, two.conversation_id, response.response_id) is None
    assert await store.get_response(ALICE, one.conversation_id, "missing") is None


async def test_add_response_to_unknown_conversation_writes_nothing(
    store: SqliteStore, db_path: Path
) -> None:
    with pytest.raises(UnknownConversationError):
        await store.add_response(ALICE, human("no-such-conversation", None))
    assert count_responses(db_path) == 0


@pytest.mark.parametrize("parent_kind", ["unknown", "other_conversation", "empty_string"])
async def test_add_response_with_bad_parent_writes_nothing(
    store: SqliteStore, db_path: Path, parent_kind: str
) -> None:
    target = await store.create_conversation(ALICE)
    other = await store.create_conversation(ALICE)
    other_root = await store.add_response(ALICE, human(other.conversation_id, None))
    target_root = await store.add_response(ALICE, human(target.conversation_id, None))
    parent = {
        "unknown": uuid.uuid4().hex,
        "other_conversation": other_root.response_id,
        "empty_string": "",
    }[parent_kind]
    before = await store.get_conversation(ALICE, target.conversation_id)
    rows_before = count_responses(db_path)

    with pytest.raises(UnknownParentError):
        await store.add_response(ALICE, human(target.conversation_id, parent))

    assert count_responses(db_path) == rows_before == 2
    assert await store.get_conversation(ALICE, target.conversation_id) == before
    assert await store.list_responses(ALICE, target.conversation_id) == [target_root]


async def test_sampling_round_trip_with_extreme_seeds_and_none(
    store: SqliteStore, db_path: Path
) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    seeds = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    stored = []
    for seed in seeds:
        sampling = SamplingRecord(temperature=1.25, top_p=0.5, max_tokens=2**31 - 1, seed=seed)
        stored.append(
            await store.add_response(
                ALICE,
                NewResponse(cid, "m", "model", None, model_name="x", sampling=sampling),
            )
        )
    unsampled = await store.add_response(ALICE, NewResponse(cid, "typed", "model", None))

    listed = await store.list_responses(ALICE, cid)
    assert [r.sampling.seed for r in listed[:-1] if r.sampling] == seeds
    assert listed == [*stored, unsampled]
    assert listed[-1].sampling is None
    assert listed[0].sampling == SamplingRecord(1.25, 0.5, 2**31 - 1, 0)
    # The 63-bit seed is stored as the plain SQLite integer it is.
    assert scalar(db_path, "SELECT seed FROM responses WHERE seq = ?", stored[2].seq) == 2**63 - 1
    with raw(db_path) as conn:
        row = conn.execute(
            "SELECT temperature, top_p, max_tokens, seed FROM responses WHERE response_id = ?",
            (unsampled.response_id,),
        ).fetchone()
    assert row == (None, None, None, None)

    # Reopening reads the same values back from disk.
    await store.close()
    async with SqliteStore(db_path) as reopened:
        assert await reopened.list_responses(ALICE, cid) == listed


@pytest.mark.parametrize("seed", [-1, 2**64])
async def test_seed_out_of_uint64_range_is_refused(
    store: SqliteStore, db_path: Path, seed: int
) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    sampling = SamplingRecord(temperature=1.0, top_p=1.0, max_tokens=1, seed=seed)
    with pytest.raises(ValueError, match="seed"):
        await store.add_response(ALICE, NewResponse(cid, "m", "model", None, sampling=sampling))
    assert count_responses(db_path) == 0


async def test_mark_shared_counts_changed_rows_of_that_conversation(store: SqliteStore) -> None:
    conversation = await store.create_conversation(ALICE)
    cid = conversation.conversation_id
    other = await store.create_conversation(ALICE)
    root = await store.add_response(ALICE, human(cid, None))
    child = await store.add_response(ALICE, human(cid, root.response_id))
    sibling = await store.add_response(ALICE, human(cid, root.response_id))
    foreign = await store.add_response(ALICE, human(other.conversation_id, None))

    changed = await store.mark_shared(
        ALICE, cid, [root.response_id, child.response_id, foreign.response_id, "missing"]
    )

    assert changed == 2
    shared = {r.response_id: r.shared for r in await store.list_responses(ALICE, cid)}
    assert shared == {root.response_id: True, child.response_id: True, sibling.response_id: False}
    assert (await store.list_responses(ALICE, other.conversation_id))[0].shared is False
    assert await store.mark_shared(ALICE, cid, [root.response_id, sibling.response_id]) == 1
    assert await store.mark_shared(ALICE, cid, []) == 0


# -- paths -------------------------------------------------------------------------------


async def test_path_to_follows_parents_from_root(store: SqliteStore) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    root = await store.add_response(ALICE, human(cid, None, "root"))
    left = await store.add_response(ALICE, human(cid, root.response_id, "left"))
    right = await store.add_response(ALICE, human(cid, root.response_id, "right"))
    right_child = await store.add_response(ALICE, human(cid, right.response_id, "rc"))
    second_root = await store.add_response(ALICE, human(cid, None, "root 2"))

    assert await store.path_to(ALICE, cid, right_child.response_id) == [root, right, right_child]
    assert await store.path_to(ALICE, cid, left.response_id) == [root, left]
    assert await store.path_to(ALICE, cid, second_root.response_id) == [second_root]
    with pytest.raises(UnknownParentError):
        await store.path_to(ALICE, cid, "missing")
    other = (await store.create_conversation(ALICE)).conversation_id
    with pytest.raises(UnknownParentError):
        await store.path_to(ALICE, other, right_child.response_id)


async def test_path_to_a_5000_deep_chain(store: SqliteStore, db_path: Path) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    ids = seed_chain(db_path, ALICE, cid, 5000)
    # The store extends the chain like any other.
    leaf = await store.add_response(ALICE, human(cid, ids[-1], "leaf"))

    path = await store.path_to(ALICE, cid, leaf.response_id)

    assert [r.response_id for r in path] == [*ids, leaf.response_id]
    assert path[0].parent_response_id is None
    assert all(b.parent_response_id == a.response_id for a, b in pairwise(path))
    middle = await store.path_to(ALICE, cid, ids[2499])
    assert [r.response_id for r in middle] == ids[:2500]


async def test_listing_10000_responses_keeps_creation_order(
    store: SqliteStore, db_path: Path
) -> None:
    # How fast this is belongs to the benchmarks (bench.store); the test pins the result.
    cid = (await store.create_conversation(ALICE)).conversation_id
    ids = seed_chain(db_path, ALICE, cid, 10_000)
    listed = await store.list_responses(ALICE, cid)
    assert [r.response_id for r in listed] == ids


# -- concurrency -------------------------------------------------------------------------


async def test_concurrent_add_response_keeps_every_write_in_order(
    store: SqliteStore, db_path: Path
) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    roots = [await store.add_response(ALICE, human(cid, None, f"root {i}")) for i in range(5)]
    parents = [None, *(r.response_id for r in roots)]
    requests = [human(cid, parents[i % len(parents)], f"message {i}") for i in range(200)]

    added = await asyncio.gather(*(store.add_response(ALICE, new) for new in requests))

    # Writes are applied in arrival order: seq and create_time both follow submission.
    assert [r.message for r in added] == [n.message for n in requests]
    seqs = [r.seq for r in added]
    assert seqs == sorted(seqs) and len(set(seqs)) == 200
    times = [r.create_time for r in added]
    assert all(a < b for a, b in pairwise(times))
    listed = await store.list_responses(ALICE, cid)
    assert listed == [*roots, *added]
    known = {r.response_id for r in roots}
    assert all(r.parent_response_id is None or r.parent_response_id in known for r in added)
    conversation = await store.get_conversation(ALICE, cid)
    assert conversation is not None
    assert conversation.response_count == 205
    assert conversation.update_time == added[-1].create_time
    assert count_responses(db_path) == 205
    assert await store.check_integrity() == []
    assert scalar(db_path, "PRAGMA integrity_check") == "ok"


async def test_cancelled_writes_leave_no_partial_rows_and_store_usable(
    store: SqliteStore, db_path: Path
) -> None:
    cid = (await store.create_conversation(ALICE)).conversation_id
    # While another transaction holds the writer, the responses queue for the next group
    # commit; the callers cancelled meanwhile must write nothing.
    async with store._transaction():
        tasks = [
            asyncio.create_task(store.add_response(ALICE, human(cid, None, f"m{i}")))
            for i in range(20)
        ]
        for _ in range(100_000):  # turns of the loop until every task queued its write
            if len(store._pending) == len(tasks):
                break
            await asyncio.sleep(0)
        for task in tasks[1:10]:
            task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    stored = [r for r in results if not isinstance(r, BaseException)]
    cancelled = [r for r in results if isinstance(r, asyncio.CancelledError)]
    assert len(cancelled) == 9 and len(stored) == 11
    assert {r.response_id for r in await store.list_responses(ALICE, cid)} == {
        r.response_id for r in stored
    }
    # No transaction was left open: a further write still works.
    after = await store.add_response(ALICE, human(cid, None, "after"))
    assert (await store.get_response(ALICE, cid, after.response_id)) == after
    assert count_responses(db_path) == 12
    assert await store.check_integrity() == []


async def test_close_flushes_writes_already_queued(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    cid = (await store.create_conversation(ALICE)).conversation_id

    *added, _ = await asyncio.gather(
        *(store.add_response(ALICE, human(cid, None, f"m{i}")) for i in range(50)), store.close()
    )

    assert len(added) == 50
    with pytest.raises(StoreClosedError):
        await store.add_response(ALICE, human(cid, None))
    async with SqliteStore(db_path) as reopened:
        assert await reopened.list_responses(ALICE, cid) == added


# -- lifecycle, persistence, settings ----------------------------------------------------


async def test_everything_persists_across_close_and_reopen(db_path: Path) -> None:
    async with SqliteStore(db_path) as first:
        conversation = await first.create_conversation(ALICE, "kept")
        root = await first.add_response(ALICE, human(conversation.conversation_id, None))
        await first.mark_shared(ALICE, conversation.conversation_id, [root.response_id])
        conversation = await first.update_conversation(
            ALICE, conversation.conversation_id, "kept", True
        )
        responses = await first.list_responses(ALICE, conversation.conversation_id)

    async with SqliteStore(db_path) as second:
        assert await second.list_conversations(ALICE) == [conversation]
        assert await second.list_responses(ALICE, conversation.conversation_id) == responses
        assert responses[0].shared is True
        later = await second.add_response(ALICE, human(conversation.conversation_id, None))
        assert later.seq > root.seq


async def test_closed_store_refuses_every_call(db_path: Path) -> None:
    store = SqliteStore(db_path)
    with pytest.raises(StoreClosedError, match="store is not open"):
        await store.list_conversations(ALICE)
    await store.open()
    cid = (await store.create_conversation(ALICE)).conversation_id
    await store.close()
    await store.close()  # idempotent

    calls = [
        store.create_conversation(ALICE),
        store.get_conversation(ALICE, cid),
        store.list_conversations(ALICE),
        store.update_conversation(ALICE, cid, "t", False),
        store.delete_conversation(ALICE, cid),
        store.list_responses(ALICE, cid),
        store.get_response(ALICE, cid, "r"),
        store.path_to(ALICE, cid, "r"),
        store.add_response(ALICE, human(cid, None)),
        store.mark_shared(ALICE, cid, ["r"]),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError, match="store is closed"):
            await call

    # A closed store can be opened again and still holds its data.
    await store.open()
    try:
        assert await store.get_conversation(ALICE, cid) is not None
    finally:
        await store.close()


def test_constructor_rejects_memory_databases_and_unknown_durability(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file"):
        SqliteStore(":memory:")
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(tmp_path / "x.db", durability="sometimes")  # type: ignore[arg-type]


async def test_open_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "grove.sqlite3"
    async with SqliteStore(path) as store:
        await store.create_conversation(ALICE)
    assert scalar(path, "SELECT COUNT(*) FROM conversations") == 1


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
async def test_pragmas_are_applied(db_path: Path, durability: str, synchronous: int) -> None:
    async with SqliteStore(db_path, durability=durability) as store:  # type: ignore[arg-type]
        assert await store.pragmas() == {
            "journal_mode": "wal",
            "synchronous": synchronous,
            "foreign_keys": 1,
            "busy_timeout": 5000,
        }
        # WAL is a property of the file, visible to any other connection.
        assert scalar(db_path, "PRAGMA journal_mode") == "wal"


# -- migrations --------------------------------------------------------------------------


def recorded_versions(path: Path) -> list[tuple[int, str]]:
    with raw(path) as conn:
        return conn.execute(
            "SELECT version, applied_time FROM schema_version ORDER BY 1"
        ).fetchall()


async def test_fresh_database_has_latest_schema_and_reopen_does_not_migrate(
    db_path: Path,
) -> None:
    async with SqliteStore(db_path):
        pass
    first = recorded_versions(db_path)
    assert [version for version, _ in first] == list(range(1, LATEST_VERSION + 1))
    with raw(db_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "responses", "users", "api_keys", "schema_version"} <= tables
    assert {"conversations_user_update", "responses_conversation_seq"} <= tables

    async with SqliteStore(db_path):
        pass
    assert recorded_versions(db_path) == first


async def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    async with SqliteStore(db_path) as store:
        await store.create_conversation(ALICE)
    with raw(db_path) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, applied_time) VALUES (?, ?)",
            (LATEST_VERSION + 1, "2999-01-01T00:00:00.000000+00:00"),
        )

    store = SqliteStore(db_path)
    with pytest.raises(SchemaVersionError, match="newer"):
        await store.open()
    with pytest.raises(StoreClosedError):
        await store.list_conversations(ALICE)
    # The refused database was left exactly as it was.
    assert max(v for v, _ in recorded_versions(db_path)) == LATEST_VERSION + 1
    assert scalar(db_path, "SELECT COUNT(*) FROM conversations") == 1


async def test_migrate_applies_only_newer_steps_each_atomically(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    applied = recorded_versions(db_path)
    next_version = LATEST_VERSION + 1
    good = Migration(
        next_version, "add a column", ("ALTER TABLE conversations ADD COLUMN color TEXT",)
    )
    bad = Migration(
        next_version + 1,
        "fails half-way",
        ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"),
    )

    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, (*MIGRATIONS, good)) == next_version
        with pytest.raises(sqlite3.OperationalError):
            await migrate(conn, (*MIGRATIONS, good, bad))
        assert await current_version(conn) == next_version

    versions = recorded_versions(db_path)
    assert versions[: len(applied)] == applied  # earlier steps were not re-run
    assert [v for v, _ in versions] == list(range(1, next_version + 1))
    with raw(db_path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
        half_done = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'"
        ).fetchone()[0]
    assert "color" in columns
    assert half_done == 0


async def test_migrate_rejects_a_list_with_gaps(db_path: Path) -> None:
    gap = Migration(LATEST_VERSION + 2, "skips a version", ("SELECT 1",))
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        with pytest.raises(ValueError, match="expected"):
            await migrate(conn, (*MIGRATIONS, gap))
        assert await current_version(conn) == 0


# -- research: annotations, tokens, search index, import -----------------------------------


async def test_upgrade_from_version_3_indexes_existing_rows(db_path: Path) -> None:
    """A database written before search existed gets its titles and messages indexed."""
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:3]) == 3
    now = datetime(2025, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds")
    with raw(db_path) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO conversations (conversation_id, user_id, title, starred, create_time,"
            " update_time) VALUES (?, ?, ?, 0, ?, ?)",
            [("c" * 32, ALICE, "Old orchard", now, now), ("d" * 32, BOB, "", now, now)],
        )
        conn.executemany(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ("1" * 32, "c" * 32, ALICE, None, "How do quinces ripen?", "human", now),
                ("2" * 32, "c" * 32, ALICE, "1" * 32, "Slowly, quinces ripen.", "model", now),
                ("3" * 32, "d" * 32, BOB, None, "Bob's quinces", "human", now),
            ],
        )
        conn.execute("COMMIT")
        assert "search_text" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}

    async with SqliteStore(db_path) as store:
        assert [v for v, _ in recorded_versions(db_path)] == list(range(1, LATEST_VERSION + 1))
        assert index_problems_of(db_path) == []
        # Replies stored before finish reasons were recorded read as unknown ("").
        (old,) = [r for r in await store.list_responses(ALICE, "c" * 32) if r.sender == "model"]
        assert old.finish_reason == ""
        hits = await store.search(ALICE, '"quinces"', SearchFilters(), 10)
        assert {(h.field, h.response.response_id) for h in hits if h.response} == {
            ("message", "1" * 32),
            ("message", "2" * 32),
        }
        assert all(h.snippet[a:b].lower() == "quinces" for h in hits for a, b in h.highlights)
        (title,) = await store.search(ALICE, '"orchard"', SearchFilters(), 10)
        assert (title.field, title.response, title.conversation_id) == ("title", None, "c" * 32)
        assert [
            h.response.response_id
            for h in await store.search(BOB, '"quinces"', SearchFilters(), 10)
        ] == ["3" * 32]
        old = await store.get_response(ALICE, "c" * 32, "2" * 32)
        assert old is not None and old.prefix_length == 0
        assert await store.response_tokens(ALICE, "c" * 32, "2" * 32) == []
        # Writes after the upgrade are indexed by the triggers.
        await store.add_response(ALICE, human("c" * 32, "2" * 32, "quinces again"))
        assert len(await store.search(ALICE, '"quinces"', SearchFilters(), 10)) == 3
        await store.update_conversation(ALICE, "c" * 32, "New title", False)
        assert await store.search(ALICE, '"orchard"', SearchFilters(), 10) == []
        assert index_problems_of(db_path) == []


async def test_search_index_follows_every_write(store: SqliteStore, db_path: Path) -> None:
    conversation = await store.create_conversation(ALICE)
    cid = conversation.conversation_id
    first = await store.add_response(ALICE, human(cid, None, "alpha beta"))
    second = await store.add_response(ALICE, human(cid, first.response_id, "gamma"))
    other = await store.create_conversation(BOB)
    await store.add_response(BOB, human(other.conversation_id, None, "alpha"))
    assert index_problems_of(db_path) == []

    note = AnnotationRecord(bookmarked=True, tags=("x", "y"), rating=1, note="a note")
    assert await store.annotate(ALICE, cid, first.response_id, note)
    assert await store.annotate(ALICE, cid, second.response_id, AnnotationRecord(rating=-1))
    assert index_problems_of(db_path) == []
    assert await store.annotate(ALICE, cid, first.response_id, AnnotationRecord(tags=("z",)))
    assert index_problems_of(db_path) == []
    # Bob cannot annotate Alice's response, nor Alice one of another conversation.
    assert not await store.annotate(BOB, cid, first.response_id, note)
    assert not await store.annotate(ALICE, other.conversation_id, first.response_id, note)
    assert await store.annotations(BOB, cid) == {}
    assert set(await store.annotations(ALICE, cid)) == {first.response_id, second.response_id}

    assert await store.annotate(ALICE, cid, second.response_id, AnnotationRecord())
    assert set(await store.annotations(ALICE, cid)) == {first.response_id}
    await store.update_conversation(ALICE, cid, "A title", True)
    assert index_problems_of(db_path) == []
    assert await store.delete_conversation(ALICE, cid)
    assert index_problems_of(db_path) == []
    assert scalar(db_path, "SELECT COUNT(*) FROM search_rows WHERE user_id = ?", ALICE) == 0
    assert scalar(db_path, "SELECT COUNT(*) FROM annotations") == 0


async def test_response_tokens_round_trip(store: SqliteStore) -> None:
    conversation = await store.create_conversation(ALICE)
    cid = conversation.conversation_id
    tokens = (("Given", None, ()), (" word", -0.25, ((" word", -0.25), (" other", -1.5))))
    reply = await store.add_response(
        ALICE,
        NewResponse(
            conversation_id=cid,
            message="Given word",
            sender="model",
            parent_response_id=None,
            prefix_length=5,
            tokens=tokens,
        ),
    )
    assert reply.prefix_length == 5
    assert await store.response_tokens(ALICE, cid, reply.response_id) == list(tokens)
    bare = await store.add_response(ALICE, human(cid, None, "no tokens"))
    assert await store.response_tokens(ALICE, cid, bare.response_id) == []
    assert await store.response_tokens(BOB, cid, reply.response_id) is None
    assert await store.response_tokens(ALICE, uuid.uuid4().hex, reply.response_id) is None


async def test_an_import_naming_a_later_parent_stores_nothing(
    store: SqliteStore, db_path: Path
) -> None:
    def item(local: str, parent: str | None) -> ImportItem:
        return ImportItem(local, parent, human("", None, f"message {local}"))

    with pytest.raises(UnknownParentError):
        await store.import_conversation(ALICE, "t", False, [item("a", None), item("b", "c")])
    assert scalar(db_path, "SELECT COUNT(*) FROM conversations") == 0
    assert count_responses(db_path) == 0
    assert scalar(db_path, "SELECT COUNT(*) FROM search_rows") == 0
    record = await store.import_conversation(
        ALICE, "t", True, [item("a", None), item("b", "a"), item("c", "a")]
    )
    assert (record.title, record.starred, record.response_count) == ("t", True, 3)
    a, b, c = await store.list_responses(ALICE, record.conversation_id)
    assert b.parent_response_id == c.parent_response_id == a.response_id
    assert index_problems_of(db_path) == []


# -- leaves: each user's place in a conversation (migration 7) -----------------------------


async def test_upgrade_from_version_6_keeps_conversations_without_a_place(db_path: Path) -> None:
    """Conversations written before leaves existed have no stored place until one is chosen."""
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:6]) == 6
    now = datetime(2025, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds")
    with raw(db_path) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, starred, create_time,"
            " update_time) VALUES (?, ?, '', 0, ?, ?)",
            ("c" * 32, ALICE, now, now),
        )
        conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time) VALUES (?, ?, ?, NULL, 'hi', 'human', ?)",
            ("1" * 32, "c" * 32, ALICE, now),
        )
        conn.execute("COMMIT")
    async with SqliteStore(db_path) as store:
        assert await store.get_leaf(ALICE, "c" * 32) is None
        assert not await store.set_leaf(BOB, "c" * 32, "1" * 32), "not Bob's conversation"
        assert not await store.set_leaf(ALICE, "c" * 32, "2" * 32), "not a response of it"
        assert await store.get_leaf(ALICE, "c" * 32) is None
        assert await store.set_leaf(ALICE, "c" * 32, "1" * 32)
        leaf = await store.get_leaf(ALICE, "c" * 32)
        assert leaf is not None and leaf.response_id == "1" * 32
        assert await store.get_leaf(BOB, "c" * 32) is None
        assert await store.check_integrity() == []


async def test_a_place_following_a_crashed_stream_ends_on_its_recovered_reply(
    store: SqliteStore,
) -> None:
    """The crash case of select_reply: the checkpoint becomes the reply, and the place."""
    conversation = await store.create_conversation(ALICE)
    cid = conversation.conversation_id
    question = await store.add_response(ALICE, human(cid, None))
    other = await store.create_conversation(ALICE)
    other_question = await store.add_response(ALICE, human(other.conversation_id, None))
    assert await store.set_leaf(ALICE, cid, question.response_id, follows="c" * 32)
    # The other conversation's place was chosen by hand: recovery leaves it alone.
    assert await store.set_leaf(ALICE, other.conversation_id, other_question.response_id)

    def partial(conversation_id: str, parent: str) -> NewResponse:
        return NewResponse(
            conversation_id=conversation_id,
            message="an interrupted",
            sender="model",
            parent_response_id=parent,
            partial=True,
        )

    await store.save_checkpoints(
        [
            Checkpoint("c" * 32, ALICE, partial(cid, question.response_id)),
            Checkpoint("d" * 32, ALICE, partial(other.conversation_id, other_question.response_id)),
        ]
    )
    recovered = {r.conversation_id: r for r in await store.recover_checkpoints()}
    leaf = await store.get_leaf(ALICE, cid)
    assert leaf is not None and leaf.response_id == recovered[cid].response_id
    kept = await store.get_leaf(ALICE, other.conversation_id)
    assert kept is not None and kept.response_id == other_question.response_id


async def test_a_title_moves_the_update_time_on_from_a_later_one(
    store: SqliteStore, db_path: Path
) -> None:
    """An imported conversation may carry a time after the clock's: a title set later
    still moves it on (clients order the title and star states they hear of by it)."""
    created = await store.create_conversation(ALICE, "imported")
    ahead = datetime(2100, 1, 1, tzinfo=UTC)
    with closing(sqlite3.connect(db_path)) as raw, raw:
        raw.execute(
            "UPDATE conversations SET update_time = ? WHERE conversation_id = ?",
            (ahead.isoformat(timespec="microseconds"), created.conversation_id),
        )
    renamed = await store.update_conversation(ALICE, created.conversation_id, "renamed", None)
    assert renamed is not None and renamed.update_time == ahead + timedelta(microseconds=1)
    again = await store.update_conversation(ALICE, created.conversation_id, "again", True)
    assert again is not None and again.update_time > renamed.update_time
