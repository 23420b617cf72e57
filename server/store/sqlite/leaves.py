"""The leaves table of the SQLite store: each user's current leaf per conversation.

Where a user is in a conversation is server state, so reopening it — in the app, after a
reload, from the command line or another machine — puts them back there instead of on
the newest response (which a background sample may have just added).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from grove_explorer.server.store.records import LeafRecord
from grove_explorer.server.store.sqlite.connection import SqliteDatabase
from grove_explorer.server.store.sqlite.rows import format_time

_UPSERT = (
    "INSERT INTO leaves (user_id, conversation_id, response_id, update_time)"
    " VALUES (?, ?, ?, ?)"
    " ON CONFLICT (user_id, conversation_id) DO UPDATE"
    " SET response_id = excluded.response_id, update_time = excluded.update_time"
)


async def follow_leaf(
    conn: aiosqlite.Connection,
    user_id: str,
    conversation_id: str,
    response_id: str,
    leaf_from: Sequence[str | None],
    stamp: str,
) -> None:
    """Moves the user's leaf to `response_id` if it is one of `leaf_from` (in a transaction).

    `IS` compares NULL (no leaf) like a value. A user who selected another response since
    keeps it: a reply finishing elsewhere never pulls them away.
    """
    if not leaf_from:
        return
    await conn.execute_fetchall(
        "UPDATE leaves SET response_id = ?, update_time = ?"
        " WHERE user_id = ? AND conversation_id = ?"
        f" AND ({' OR '.join('response_id IS ?' for _ in leaf_from)})",
        (response_id, stamp, user_id, conversation_id, *leaf_from),
    )


class LeafQueries(SqliteDatabase):
    """A user's place in each conversation; rows go with their conversation (cascade)."""

    async def get_leaf(self, user_id: str, conversation_id: str) -> LeafRecord | None:
        """The user's current leaf of the conversation; None if they never chose one."""
        rows = await self._read(
            "SELECT response_id FROM leaves WHERE user_id = ? AND conversation_id = ?",
            (user_id, conversation_id),
        )
        return LeafRecord(rows[0][0]) if rows else None

    async def set_leaf(self, user_id: str, conversation_id: str, response_id: str | None) -> bool:
        """Makes `response_id` (None: no leaf) the user's leaf; False if not theirs."""
        async with self._transaction() as conn:
            owned = list(
                await conn.execute_fetchall(
                    "SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?"
                    " AND (? IS NULL OR EXISTS (SELECT 1 FROM responses"
                    "      WHERE response_id = ? AND conversation_id = ? AND user_id = ?))",
                    (conversation_id, user_id, response_id, response_id, conversation_id, user_id),
                )
            )
            if not owned:
                return False
            await conn.execute_fetchall(
                _UPSERT, (user_id, conversation_id, response_id, format_time(self._tick()))
            )
        return True
