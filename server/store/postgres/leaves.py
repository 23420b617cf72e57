"""The leaves table of the PostgreSQL store: each user's current leaf per conversation.

Where a user is in a conversation is server state, so reopening it — in the app, after a
reload, from another machine or through another replica — puts them back there instead of
on the newest response. The statements are the SQLite store's (server/store/sqlite/
leaves.py); here they run inside the caller's transaction on a pooled connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.records import LeafRecord, ResponseRecord

if TYPE_CHECKING:
    import psycopg

# The upsert of a user's place (also one_statement.py's, on a newly stored row).
UPSERT_TAIL = (
    " ON CONFLICT (user_id, conversation_id) DO UPDATE"
    " SET response_id = excluded.response_id, follows = excluded.follows,"
    " update_time = excluded.update_time"
)

# The place, written only when the conversation is the user's (or shared with them: a
# reader's place is their own) and the response is in it.
# The conversation row is locked FOR KEY SHARE (what a foreign key check takes): a delete
# on another replica waits for this transaction, or, when it committed first, the row is
# gone and nothing is written — never a foreign key error. KEY SHARE does not conflict
# with the update of `update_time` that every new response makes (a FOR SHARE lock would,
# and two writers each holding one while waiting to update would deadlock).
_SET_LEAF = (
    "INSERT INTO leaves (user_id, conversation_id, response_id, follows, update_time)"
    " SELECT %(uid)s, %(cid)s, %(rid)s, %(follows)s, %(now)s FROM conversations"
    " WHERE conversation_id = %(cid)s AND (user_id = %(uid)s OR EXISTS (SELECT 1 FROM shares"
    "        WHERE shares.conversation_id = %(cid)s AND shares.user_id = %(uid)s))"
    "   AND (%(rid)s::text IS NULL OR EXISTS (SELECT 1 FROM responses"
    "        WHERE response_id = %(rid)s AND conversation_id = %(cid)s))"
    " FOR KEY SHARE" + UPSERT_TAIL
)

# Moves a place that follows stream %s to a new response (one_statement.py runs it only
# once that response is stored).
FOLLOW = (
    "UPDATE leaves SET response_id = %s, update_time = %s,"
    " follows = CASE WHEN %s THEN NULL ELSE follows END"
    " WHERE user_id = %s AND conversation_id = %s AND follows = %s"
)


async def follow_leaf(
    conn: psycopg.AsyncConnection[Any],
    user_id: str,
    new: ResponseRecord,
    stream_id: str | None,
) -> None:
    """Moves the user's place to `new` if it follows stream `stream_id` (in a transaction).

    A model reply ends the following; a human message (the stream's first response)
    keeps it. A user who selected another response since follows nothing: a reply
    finishing elsewhere — on this replica or another — never pulls them away.
    """
    if stream_id is None:
        return
    await conn.execute(
        FOLLOW,
        (
            new.response_id,
            new.create_time,
            new.sender == "model",
            user_id,
            new.conversation_id,
            stream_id,
        ),
    )


class LeafQueries(PostgresDatabase):
    """A user's place in each conversation; rows go with their conversation (cascade)."""

    async def get_leaf(self, user_id: str, conversation_id: str) -> LeafRecord | None:
        """The user's current leaf of the conversation; None if they never chose one."""
        rows = await self._read(
            "SELECT response_id FROM leaves WHERE user_id = %s AND conversation_id = %s",
            (user_id, conversation_id),
        )
        return LeafRecord(rows[0][0]) if rows else None

    async def set_leaf(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str | None,
        *,
        follows: str | None = None,
    ) -> bool:
        """Makes `response_id` (None: no leaf) the user's leaf; False if not theirs.

        `follows` names a stream (its checkpoint id) whose responses take the place as they
        are stored; any other choice stops following. One checked statement, so the
        check and the write see the same conversation.
        """
        now: datetime = self._tick()
        async with self._transaction() as conn:
            cursor = await conn.execute(
                _SET_LEAF,
                {
                    "uid": user_id,
                    "cid": conversation_id,
                    "rid": response_id,
                    "follows": follows,
                    "now": now,
                },
            )
            return cursor.rowcount > 0
