"""Migration 10: an import indexes its messages and touches its conversation once.

Its response rows skip the per-row search and update_time triggers (the conversation is in
`bulk_imports` while the import's transaction is open) and the import fills both in after
the batch. What the tables hold afterwards must be what the per-row triggers would have
written: the same search rows in the same order, the same update_time, and every other
write still indexed by the triggers. The rows' times, made by arithmetic, are the texts
`format_time` gives each.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiosqlite
import pytest

from grove_explorer.server.store import (
    AnnotationRecord,
    ImportItem,
    NewResponse,
    SearchFilters,
    SqliteStore,
    UnknownParentError,
)
from grove_explorer.server.store.import_rows import TimeTexts, tick_texts, uuid4_hexes
from grove_explorer.server.store.migrations import LATEST_VERSION, MIGRATIONS, migrate
from grove_explorer.server.store.rows import format_time
from grove_explorer.server.store.sqlite.binding import bind_plainly
from tests.server.test_store import (  # the fixtures too
    ALICE,
    BOB,
    db_path,  # noqa: F401
    human,
    index_problems_of,
    raw,
    recorded_versions,
    scalar,
    store,  # noqa: F401
)


def _item(local: str, parent: str | None, message: str, **extra: object) -> ImportItem:
    return ImportItem(local, parent, NewResponse("", message, "human", None), **extra)  # type: ignore[arg-type]


def _message_rows_in_order(path: Path, conversation_id: str) -> list[str]:
    with raw(path) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT ref_id FROM search_rows WHERE conversation_id = ? AND kind = 'message'"
                " ORDER BY id",
                (conversation_id,),
            )
        ]


async def test_upgrade_from_version_9_keeps_the_index_and_its_triggers(
    db_path: Path,  # noqa: F811
) -> None:
    """A database of version 9 migrates; old rows stay indexed, new writes are indexed."""
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:9]) == 9
    now = datetime(2025, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds")
    with raw(db_path) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, starred, create_time,"
            " update_time) VALUES (?, ?, 'Old orchard', 0, ?, ?)",
            ("c" * 32, ALICE, now, now),
        )
        conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time, start_time)"
            " VALUES (?, ?, ?, NULL, 'How do quinces ripen?', 'human', ?, ?)",
            ("1" * 32, "c" * 32, ALICE, now, now),
        )
        conn.execute("COMMIT")
    assert index_problems_of(db_path) == []

    async with SqliteStore(db_path) as opened:
        assert [v for v, _ in recorded_versions(db_path)] == list(range(1, LATEST_VERSION + 1))
        assert LATEST_VERSION >= 10
        assert scalar(db_path, "SELECT COUNT(*) FROM bulk_imports") == 0
        assert index_problems_of(db_path) == []
        (hit,) = await opened.search(ALICE, '"quinces"', SearchFilters(), 10)
        assert hit.response is not None and hit.response.response_id == "1" * 32
        # A live insert still runs both triggers: indexed, and its conversation touched.
        added = await opened.add_response(ALICE, human("c" * 32, "1" * 32, "quinces again"))
        assert len(await opened.search(ALICE, '"quinces"', SearchFilters(), 10)) == 2
        (conversation,) = await opened.list_conversations(ALICE)
        assert conversation.update_time == added.create_time
        assert index_problems_of(db_path) == []


async def test_an_import_is_indexed_in_creation_order_and_touched_once(
    store: SqliteStore,  # noqa: F811
    db_path: Path,  # noqa: F811
) -> None:
    """The import's search rows: title, then messages in creation order, then annotations."""
    items = [
        _item("a", None, "alpha quince"),
        _item("b", "a", "beta", annotation=AnnotationRecord(tags=("kept",), note="a note")),
        _item("c", "a", "gamma quince"),
        _item("d", "c", "delta"),
    ]
    record, responses = await store.import_forest(ALICE, "Imported orchard", False, items)
    cid = record.conversation_id
    assert index_problems_of(db_path) == []
    assert scalar(db_path, "SELECT COUNT(*) FROM bulk_imports") == 0
    stored = await store.list_responses(ALICE, cid)
    assert [r.response_id for r in stored] == [r.response_id for r in responses]
    assert _message_rows_in_order(db_path, cid) == [r.response_id for r in stored]
    with raw(db_path) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM search_rows ORDER BY id")]
    assert kinds == ["title", "message", "message", "message", "message", "tag", "note"]
    # update_time is the last response's time, as the per-row trigger left it.
    (listed,) = await store.list_conversations(ALICE)
    assert listed.update_time == max(r.create_time for r in stored) == stored[-1].create_time
    hits = await store.search(ALICE, '"quince"', SearchFilters(), 10)
    assert sorted(h.response.response_id for h in hits if h.response) == sorted(
        [stored[0].response_id, stored[2].response_id]
    )
    assert [h.conversation_id for h in await store.search(ALICE, "orchard", SearchFilters(), 10)]
    assert await store.search(BOB, '"quince"', SearchFilters(), 10) == []

    # After the import, its conversation takes live writes through the triggers again.
    added = await store.add_response(ALICE, human(cid, stored[-1].response_id, "epsilon quince"))
    assert len(await store.search(ALICE, '"quince"', SearchFilters(), 10)) == 3
    (listed,) = await store.list_conversations(ALICE)
    assert listed.update_time == added.create_time
    assert index_problems_of(db_path) == []


async def test_an_empty_import_keeps_its_creation_time(
    store: SqliteStore,  # noqa: F811
    db_path: Path,  # noqa: F811
) -> None:
    record, responses = await store.import_forest(ALICE, "nothing", True, [])
    assert responses == []
    (listed,) = await store.list_conversations(ALICE)
    assert listed.update_time == listed.create_time == record.create_time
    assert scalar(db_path, "SELECT COUNT(*) FROM bulk_imports") == 0
    assert index_problems_of(db_path) == []


@pytest.mark.parametrize(
    ("first", "count"),
    [
        (datetime(2026, 12, 31, 23, 59, 59, 999_990, tzinfo=UTC), 30),  # into the next year
        (datetime(2026, 1, 1, tzinfo=UTC), 2_100_000),  # whole seconds of rows
        (datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC), 1),
        (datetime(2026, 1, 1, tzinfo=UTC), 0),
    ],
)
def test_an_imports_row_times_are_formatted_as_each_would_be(first: datetime, count: int) -> None:
    """The rows' times, made by arithmetic, are the texts `format_time` gives each."""
    expected = [format_time(first + timedelta(microseconds=i)) for i in range(count)]
    assert tick_texts(first, count) == expected


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 1, 3, 4, 5, 123_456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),  # before the epoch
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2020, 5, 5, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=5))),  # another zone
    ],
)
def test_kept_times_are_formatted_as_format_time_formats_them(moment: datetime) -> None:
    """`TimeTexts` (each hour's text made once) writes what `format_time` writes."""
    texts = TimeTexts()
    assert texts(moment) == format_time(moment)
    if moment.year < 9999:
        for step in (timedelta(microseconds=1), timedelta(seconds=61), timedelta(hours=25)):
            assert texts(moment + step) == format_time(moment + step)


def test_import_ids_are_distinct_uuid4_hexes() -> None:
    ids = uuid4_hexes(2_000)
    assert len(set(ids)) == 2_000
    for text in ids:
        made = uuid.UUID(hex=text)
        assert made.version == 4 and made.variant == uuid.RFC_4122 and made.hex == text


async def test_an_import_failing_after_its_first_thousand_rows_stores_nothing(
    store: SqliteStore,  # noqa: F811
    db_path: Path,  # noqa: F811
) -> None:
    """Rows go in a thousand at a time while the next are built; a late failure undoes all."""
    items = [_item(f"r{i}", f"r{i - 1}" if i else None, f"message {i}") for i in range(2_500)]
    items[2_200] = _item("r2200", "nowhere", "names an unknown parent")
    with pytest.raises(UnknownParentError):
        await store.import_forest(ALICE, "t", False, items)
    for table in ("conversations", "responses", "search_rows", "bulk_imports"):
        assert scalar(db_path, f"SELECT COUNT(*) FROM {table}") == 0, table
    # The store is usable afterwards, and a good import of the same size is whole.
    items[2_200] = _item("r2200", "r2199", "message 2200")
    record, responses = await store.import_forest(ALICE, "t", False, items)
    assert record.response_count == len(responses) == 2_500
    assert [r.parent_response_id for r in responses[1:]] == [r.response_id for r in responses[:-1]]
    assert index_problems_of(db_path) == []


def test_nulls_and_blobs_bind_as_before_with_their_identity_adapters() -> None:
    """`binding.bind_plainly` (registered by the store) changes no bound value."""
    bind_plainly()
    with sqlite3.connect(":memory:") as conn:
        row = conn.execute("SELECT ? IS NULL, typeof(?), ?, typeof(?)", (None, b"x\0y", b"", 7))
        assert row.fetchone() == (1, "blob", b"", "integer")
