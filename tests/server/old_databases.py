"""Databases left at an older schema version, for tests of what an upgrade reads back.

Each migration test needs the same thing: a database migrated only up to some version,
holding one conversation with one model reply written with that version's columns, then
opened by the current store (which migrates it the rest of the way).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from grove_explorer.server.store.migrations import MIGRATIONS, migrate
from tests.server.test_store import ALICE, raw

OLD_CONVERSATION = "c" * 32
OLD_REPLY = "1" * 32


async def database_at_version(
    path: Path, version: int, *, message: str = "old", token_count: int = 0
) -> None:
    """Migrates `path` up to `version` only and stores Alice's conversation
    `OLD_CONVERSATION` with one model reply `OLD_REPLY` in it, as that version wrote them."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:version]) == version
    now = datetime(2025, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds")
    with raw(path) as conn:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, starred, create_time,"
            " update_time) VALUES (?, ?, '', 0, ?, ?)",
            (OLD_CONVERSATION, ALICE, now, now),
        )
        conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, parent_response_id,"
            " message, sender, create_time, start_time, token_count)"
            " VALUES (?, ?, ?, NULL, ?, 'model', ?, ?, ?)",
            (OLD_REPLY, OLD_CONVERSATION, ALICE, message, now, now, token_count),
        )
        conn.execute("COMMIT")
