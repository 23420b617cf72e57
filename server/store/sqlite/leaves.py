"""The leaves table of the SQLite store: each user's current leaf per conversation.

Where a user is in a conversation is server state, so reopening it — in the app, after a
reload, from the command line or another machine — puts them back there instead of on
the newest response (which a background sample may have just added).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import aiosqlite

from grove_explorer.server.store.records import LeafRecord, ResponseRecord
from grove_explorer.server.store.rows import format_time
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

_UPSERT = (
    "INSERT INTO leaves (user_id, conversation_id, response_id, follows, update_time)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, conversation_id) DO UPDATE"
    " SET response_id = excluded.response_id, follows = excluded.follows,"
    " update_time = excluded.update_time"
)


_FOLLOW = (
    "UPDATE leaves SET response_id = ?, update_time = ?,"
    " follows = CASE WHEN ? THEN NULL ELSE follows END"
    " WHERE user_id = ? AND conversation_id = ? AND follows = ?"
)


def follow_leaf_now(
    conn: sqlite3.Connection,
    user_id: str,
    new: ResponseRecord,
    stream_id: str | None,
    stamp: str,
) -> None:
    """Moves the user's place to `new` if it follows stream `stream_id` (in a transaction).

    A model reply ends the following; a human message (the stream's first response)
    keeps it. A user who selected another response since follows nothing: a reply
    finishing elsewhere never pulls them away. Runs on the writer's thread (a group commit).
    """
    if stream_id is None:
        return
    conn.execute(
        _FOLLOW,
        (new.response_id, stamp, new.sender == "model", user_id, new.conversation_id, stream_id),
    )


def start_following_now(
    conn: sqlite3.Connection, user_id: str, new: ResponseRecord, stream_id: str
) -> None:
    """Makes `new` the user's place, following stream `stream_id` (in a transaction).

    What `set_leaf(new's parent, follows=stream_id)` then `follow_leaf_now(new)` leave
    for a human message, in one statement: the caller has checked ownership (the insert).
    """
    conn.execute(
        _UPSERT,
        (user_id, new.conversation_id, new.response_id, stream_id, format_time(new.create_time)),
    )


async def follow_leaf(
    conn: aiosqlite.Connection,
    user_id: str,
    new: ResponseRecord,
    stream_id: str | None,
    stamp: str,
) -> None:
    """`follow_leaf_now` from the event loop, inside an aiosqlite transaction."""
    if stream_id is None:
        return
    await conn.execute_fetchall(
        _FOLLOW,
        (new.response_id, stamp, new.sender == "model", user_id, new.conversation_id, stream_id),
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

    async def set_leaf(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str | None,
        *,
        follows: str | None = None,
    ) -> bool:
        """Makes `response_id` (None: no leaf) the user's leaf; False if not theirs.

        "Theirs": owned or shared with them, in any role (each user has a place of their own).

        `follows` names a stream (its checkpoint id) whose responses take the place as they
        are stored; any other choice stops following.
        """

        def write(conn: sqlite3.Connection, now: datetime) -> bool:
            # The user's own conversation or one shared with them (a reader's place is
            # their own), and a response in it.
            owned = conn.execute(
                "SELECT 1 FROM conversations WHERE conversation_id = :cid AND (user_id = :uid"
                " OR EXISTS (SELECT 1 FROM shares WHERE shares.conversation_id = :cid"
                "            AND shares.user_id = :uid))"
                " AND (:rid IS NULL OR EXISTS (SELECT 1 FROM responses"
                "      WHERE response_id = :rid AND conversation_id = :cid))",
                {"cid": conversation_id, "uid": user_id, "rid": response_id},
            ).fetchall()
            if not owned:
                return False
            conn.execute(
                _UPSERT, (user_id, conversation_id, response_id, follows, format_time(now))
            )
            return True

        # Group-committed (connection.py): a select_reply stream sets the place as it
        # starts, so it shares a transaction with the other starts of the moment.
        return await self._write(write)
