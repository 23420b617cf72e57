"""The shares table of the PostgreSQL store: who else may read or write a conversation.

The same contract as the SQLite store's (server/store/sqlite/sharing.py).
"""

from __future__ import annotations

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.protocol import UnknownConversationError
from grove_explorer.server.store.sharing_records import (
    Access,
    ShareRecord,
    check_grant,
    read_access,
    read_share,
)

ACCESS_SQL = (
    "SELECT c.user_id, CASE WHEN c.user_id = %(uid)s THEN 'owner' ELSE s.role END"
    " FROM conversations AS c"
    " LEFT JOIN shares AS s ON s.conversation_id = c.conversation_id AND s.user_id = %(uid)s"
    " WHERE c.conversation_id = %(cid)s AND (c.user_id = %(uid)s OR s.role IS NOT NULL)"
)
"""The owner and the user's role, by the primary keys of both tables."""

_SHARE_SELECT = (
    "SELECT conversation_id, user_id, role, granted_by, create_time FROM shares"
    " WHERE conversation_id = %s"
)


class SharingQueries(PostgresDatabase):
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
        now = self._tick()
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO shares (conversation_id, user_id, role, granted_by, create_time)"
                " SELECT conversation_id, %s, %s, %s, %s FROM conversations"
                " WHERE conversation_id = %s AND user_id = %s"
                " ON CONFLICT (conversation_id, user_id)"
                " DO UPDATE SET role = excluded.role, granted_by = excluded.granted_by"
                " RETURNING conversation_id, user_id, role, granted_by, create_time",
                (user_id, checked, owner_id, now, conversation_id, owner_id),
            )
            row = await cursor.fetchone()
        if row is None:
            raise UnknownConversationError(conversation_id)
        return read_share(row)

    async def revoke_access(self, owner_id: str, conversation_id: str, user_id: str) -> bool:
        """Ends a share of the owner's conversation; False if there was none."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM shares AS s USING conversations AS c"
                " WHERE s.conversation_id = %s AND s.user_id = %s"
                " AND c.conversation_id = s.conversation_id AND c.user_id = %s",
                (conversation_id, user_id, owner_id),
            )
            return cursor.rowcount > 0

    async def locate_response(self, response_id: str) -> str | None:
        """The conversation holding a response (None: none); check `access` after."""
        rows = await self._read(
            "SELECT conversation_id FROM responses WHERE response_id = %s", (response_id,)
        )
        return str(rows[0][0]) if rows else None

    async def list_access(self, owner_id: str, conversation_id: str) -> list[ShareRecord]:
        """The users the owner's conversation is shared with, oldest grant first."""
        rows = await self._read(
            _SHARE_SELECT + " AND EXISTS (SELECT 1 FROM conversations AS c"
            " WHERE c.conversation_id = shares.conversation_id AND c.user_id = %s)"
            " ORDER BY create_time, user_id",
            (conversation_id, owner_id),
        )
        return [read_share(row) for row in rows]
