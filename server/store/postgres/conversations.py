"""The conversations table group of the PostgreSQL store: create, read, list, update, delete."""

from __future__ import annotations

import uuid

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.records import ConversationRecord
from grove_explorer.server.store.rows import CONVERSATION_SELECT, read_conversation

# Owned ones by the (user_id, update_time) index, shared ones by the shares_user index: a
# UNION, because with an OR PostgreSQL scans every conversation of every user.
_COLUMNS = (
    "c.conversation_id, c.user_id, c.title, c.starred, c.create_time, c.update_time,"
    " (SELECT count(*) FROM responses AS r WHERE r.conversation_id = c.conversation_id)"
)
_LIST = (
    f"SELECT {_COLUMNS}, 'owner' AS role, c.seq FROM conversations AS c"
    " WHERE c.user_id = %(uid)s"
    " UNION ALL"
    f" SELECT {_COLUMNS}, s.role, c.seq FROM shares AS s"
    " JOIN conversations AS c ON c.conversation_id = s.conversation_id"
    " WHERE s.user_id = %(uid)s AND c.user_id <> %(uid)s"
    " ORDER BY update_time DESC, seq DESC"
)


class ConversationQueries(PostgresDatabase):
    """Conversation metadata; a conversation's responses go with it by cascade."""

    async def create_conversation(self, user_id: str, title: str = "") -> ConversationRecord:
        """Creates an empty conversation owned by `user_id`.

        One statement in autocommit (atomic by itself): no BEGIN and COMMIT round trips,
        two of a start's few on PostgreSQL (each a trip through psycopg on the event loop).
        """
        conversation_id = uuid.uuid4().hex
        now = self._tick()
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO conversations (conversation_id, user_id, title, starred,"
                " create_time, update_time) VALUES (%s, %s, %s, false, %s, %s)",
                (conversation_id, user_id, title, now, now),
            )
        return ConversationRecord(
            conversation_id=conversation_id,
            user_id=user_id,
            title=title,
            starred=False,
            create_time=now,
            update_time=now,
            response_count=0,
        )

    async def get_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord | None:
        """Returns the conversation, or None if missing, deleted or another user's."""
        rows = await self._read(
            CONVERSATION_SELECT + " WHERE c.conversation_id = %s AND c.user_id = %s",
            (conversation_id, user_id),
        )
        return read_conversation(rows[0]) if rows else None

    async def has_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Whether the conversation exists and is the user's (one indexed lookup)."""
        rows = await self._read(
            "SELECT 1 FROM conversations WHERE conversation_id = %s AND user_id = %s",
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
        """Sets title and star (None: kept) and bumps update_time; None if not the user's."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE conversations SET title = %s, starred = coalesce(%s::boolean, starred),"
                " update_time = greatest(update_time + interval '1 microsecond', %s)"
                " WHERE conversation_id = %s AND user_id = %s",
                (title, starred, self._tick(), conversation_id, user_id),
            )
            if cursor.rowcount == 0:
                return None
            cursor = await conn.execute(
                CONVERSATION_SELECT + " WHERE c.conversation_id = %s", (conversation_id,)
            )
            row = await cursor.fetchone()
        return read_conversation(row) if row else None

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Deletes the conversation and (by cascade) its responses; False if not the user's."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM conversations WHERE conversation_id = %s AND user_id = %s",
                (conversation_id, user_id),
            )
            return cursor.rowcount > 0
