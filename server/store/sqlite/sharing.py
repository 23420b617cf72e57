"""The shares table of the SQLite store: who else may read or write a conversation.

The owner is the conversation's `user_id` and never has a row. Every store method scoped
by owner keeps its signature: the servicer asks `access` first (server/servicer/access.py)
and then calls them with the owner's id.
"""

from __future__ import annotations

from grove_explorer.server.store.protocol import UnknownConversationError
from grove_explorer.server.store.rows import format_time
from grove_explorer.server.store.sharing_records import (
    Access,
    ShareRecord,
    check_grant,
    read_access,
    read_share,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

ACCESS_SQL = (
    "SELECT c.user_id, CASE WHEN c.user_id = :uid THEN 'owner' ELSE s.role END"
    " FROM conversations AS c"
    " LEFT JOIN shares AS s ON s.conversation_id = c.conversation_id AND s.user_id = :uid"
    " WHERE c.conversation_id = :cid AND (c.user_id = :uid OR s.role IS NOT NULL)"
)
"""The owner and the user's role, by the primary keys of both tables (named :uid, :cid)."""

_SHARE_SELECT = (
    "SELECT conversation_id, user_id, role, granted_by, create_time FROM shares"
    " WHERE conversation_id = ?"
)


class SharingQueries(SqliteDatabase):
    """Grants, revocations and the one access check every shared call makes."""

    async def access(self, user_id: str, conversation_id: str) -> Access | None:
        """The owner and the user's role; None when missing or neither theirs nor shared."""
        rows = await self._read(ACCESS_SQL, {"uid": user_id, "cid": conversation_id})
        return read_access(rows)

    async def grant_access(
        self, owner_id: str, conversation_id: str, user_id: str, role: str
    ) -> ShareRecord:
        """Shares the owner's conversation with `user_id` (again: changes the role).

        Raises ShareRefusedError for the owner themselves or an unknown role, and
        UnknownConversationError when the conversation is not `owner_id`'s.
        """
        checked = check_grant(owner_id, user_id, role)
        async with self._transaction() as conn:
            stamp = format_time(self._tick())
            owned = await conn.execute_fetchall(
                "SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, owner_id),
            )
            if not list(owned):
                raise UnknownConversationError(conversation_id)
            await conn.execute_fetchall(
                "INSERT INTO shares (conversation_id, user_id, role, granted_by, create_time)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id, user_id)"
                " DO UPDATE SET role = excluded.role, granted_by = excluded.granted_by",
                (conversation_id, user_id, checked, owner_id, stamp),
            )
            rows = list(
                await conn.execute_fetchall(
                    _SHARE_SELECT + " AND user_id = ?", (conversation_id, user_id)
                )
            )
        return read_share(rows[0])

    async def revoke_access(self, owner_id: str, conversation_id: str, user_id: str) -> bool:
        """Ends a share of the owner's conversation; False if there was none."""
        async with (
            self._transaction() as conn,
            conn.execute(
                "DELETE FROM shares WHERE conversation_id = ? AND user_id = ? AND EXISTS"
                " (SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?)",
                (conversation_id, user_id, conversation_id, owner_id),
            ) as cursor,
        ):
            return cursor.rowcount > 0

    async def locate_response(self, response_id: str) -> str | None:
        """The conversation holding a response (None: none); check `access` after."""
        rows = await self._read(
            "SELECT conversation_id FROM responses WHERE response_id = ?", (response_id,)
        )
        return str(rows[0][0]) if rows else None

    async def list_access(self, owner_id: str, conversation_id: str) -> list[ShareRecord]:
        """The users the owner's conversation is shared with, oldest grant first."""
        rows = await self._read(
            _SHARE_SELECT + " AND EXISTS (SELECT 1 FROM conversations AS c"
            " WHERE c.conversation_id = shares.conversation_id AND c.user_id = ?)"
            " ORDER BY create_time, user_id",
            (conversation_id, owner_id),
        )
        return [read_share(row) for row in rows]
