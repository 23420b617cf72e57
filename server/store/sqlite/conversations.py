"""The conversations table group of the SQLite store: create, read, list, update, delete."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from grove_explorer.server.store.records import ConversationRecord
from grove_explorer.server.store.rows import (
    CONVERSATION_SELECT,
    format_time,
    parse_time,
    read_conversation,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

# Owned ones by the (user_id, update_time) index, shared ones by the shares_user index.
_LIST = (
    "SELECT c.conversation_id, c.user_id, c.title, c.starred, c.create_time, c.update_time,"
    " (SELECT COUNT(*) FROM responses AS r WHERE r.conversation_id = c.conversation_id),"
    " CASE WHEN c.user_id = :uid THEN 'owner' ELSE (SELECT s.role FROM shares AS s"
    "     WHERE s.conversation_id = c.conversation_id AND s.user_id = :uid) END"
    " FROM conversations AS c WHERE c.user_id = :uid"
    " OR c.conversation_id IN (SELECT conversation_id FROM shares WHERE user_id = :uid)"
    " ORDER BY c.update_time DESC, c.rowid DESC"
)


class ConversationQueries(SqliteDatabase):
    """Conversation metadata; a conversation's responses go with it by cascade."""

    async def create_conversation(self, user_id: str, title: str = "") -> ConversationRecord:
        """Creates an empty conversation owned by `user_id`."""
        conversation_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            now = self._tick()
            stamp = format_time(now)
            await conn.execute_fetchall(
                "INSERT INTO conversations (conversation_id, user_id, title, starred,"
                " create_time, update_time) VALUES (?, ?, ?, 0, ?, ?)",
                (conversation_id, user_id, title, stamp, stamp),
            )
        return ConversationRecord(
            conversation_id=conversation_id,
            user_id=user_id,
            title=title,
            starred=False,
            create_time=parse_time(stamp),
            update_time=parse_time(stamp),
            response_count=0,
        )

    async def get_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord | None:
        """Returns the conversation, or None if missing, deleted or another user's."""
        rows = await self._read(
            CONVERSATION_SELECT + " WHERE c.conversation_id = ? AND c.user_id = ?",
            (conversation_id, user_id),
        )
        return read_conversation(rows[0]) if rows else None

    async def has_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Whether the conversation exists and is the user's (one indexed lookup)."""
        rows = await self._read(
            "SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?",
            (conversation_id, user_id),
        )
        return bool(rows)

    async def list_conversations(self, user_id: str) -> list[ConversationRecord]:
        """The user's conversations and those shared with them, most recently updated first.

        Each record's `role` is the user's: "owner", "writer" or "reader".
        """
        rows = await self._read(_LIST, {"uid": user_id})
        return [read_conversation(row) for row in rows]

    async def update_conversation(
        self, user_id: str, conversation_id: str, title: str, starred: bool | None
    ) -> ConversationRecord | None:
        """Sets title and star (None: kept) and bumps update_time; None if not the user's.

        The update time moves on even from a time later than the clock's (an import keeps
        the times it brings): clients order the title and star states they hear of by it.
        """
        async with self._transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    CONVERSATION_SELECT + " WHERE c.conversation_id = ? AND c.user_id = ?",
                    (conversation_id, user_id),
                )
            )
            if not rows:
                return None
            held = read_conversation(rows[0])
            stamp = max(self._tick(), held.update_time + timedelta(microseconds=1))
            star = held.starred if starred is None else starred
            await conn.execute(
                "UPDATE conversations SET title = ?, starred = ?, update_time = ?"
                " WHERE conversation_id = ?",
                (title, int(star), format_time(stamp), conversation_id),
            )
        return replace(held, title=title, starred=star, update_time=stamp)

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Deletes the conversation and (by cascade) its responses; False if not the user's."""
        async with (
            self._transaction() as conn,
            conn.execute(
                "DELETE FROM conversations WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ) as cursor,
        ):
            return cursor.rowcount > 0
