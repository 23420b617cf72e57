"""Checkpoints in the SQLite store: the text of running streams, and its recovery."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime

from grove_explorer.server.store.checkpoint_payload import (
    decode_new_response as _decode_new_response,
)
from grove_explorer.server.store.checkpoint_payload import (
    encode_new_response as _encode_new_response,
)
from grove_explorer.server.store.protocol import UnknownConversationError, UnknownParentError
from grove_explorer.server.store.records import Checkpoint, ResponseRecord
from grove_explorer.server.store.rows import format_time, parse_time
from grove_explorer.server.store.sqlite.connection import SqliteDatabase
from grove_explorer.server.store.sqlite.leaves import follow_leaf
from grove_explorer.server.store.sqlite.responses import insert_response

_UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (checkpoint_id, user_id, conversation_id, response,"
    "                         create_time, update_time, owner)"
    " SELECT :id, :uid, :cid, :response, :now, :now, :owner"
    " WHERE EXISTS (SELECT 1 FROM conversations"
    "               WHERE conversation_id = :cid AND user_id = :uid)"
    " ON CONFLICT (checkpoint_id) DO UPDATE"
    " SET response = excluded.response, update_time = excluded.update_time"
)


class CheckpointQueries(SqliteDatabase):
    """Periodic saves of streaming replies; partial replies from those a crash left."""

    async def save_checkpoints(self, checkpoints: Sequence[Checkpoint], owner: str = "") -> None:
        """Upserts the current text of running streams, all in one transaction.

        One transaction for every stream keeps the cost of checkpointing flat however many
        streams run. Checkpoints of conversations deleted meanwhile are skipped. `owner`
        names the server process writing them, so another process sharing the database
        never takes a live server's checkpoints for a crash's.
        """
        if not checkpoints:
            return
        rows = [
            {
                "id": c.checkpoint_id,
                "uid": c.user_id,
                "cid": c.response.conversation_id,
                "response": _encode_new_response(c.response),
                "owner": owner,
            }
            for c in checkpoints
        ]

        def write(conn: sqlite3.Connection, now: datetime) -> None:
            stamp = format_time(now)
            conn.executemany(_UPSERT_CHECKPOINT, [{**row, "now": stamp} for row in rows])

        # Group-committed (connection.py): one trip to the writer's thread, shared with the
        # streams starting or ending meanwhile instead of holding the writer for three.
        await self._write(write)

    async def discard_checkpoint(self, checkpoint_id: str) -> None:
        """Deletes a checkpoint whose stream ended without storing a reply."""
        async with self._transaction() as conn:
            await conn.execute_fetchall(
                "DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
            )

    async def announce_owner(self, owner: str) -> None:
        """Records nothing: a SQLite file's servers share a host.

        The OS tells whether a writer's process lives (server/owners.py).
        """

    async def recover_checkpoints(
        self, is_orphan: Callable[[str, datetime], bool] = lambda owner, updated: True
    ) -> list[ResponseRecord]:
        """Turns checkpoints left by a crashed server into partial replies; returns them.

        `is_orphan(owner, update_time)` says whether a checkpoint's writer is gone; those of
        live servers (another process on the same database) are left alone. A checkpoint
        whose parent vanished (its conversation was deleted) is dropped.
        """
        recovered: list[ResponseRecord] = []
        async with self._transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT checkpoint_id, user_id, response, owner, update_time"
                    " FROM checkpoints ORDER BY create_time"
                )
            )
            for checkpoint_id, user_id, data, owner, updated in rows:
                if not is_orphan(owner, parse_time(updated)):
                    continue
                new = _decode_new_response(data)
                with suppress(UnknownConversationError, UnknownParentError):
                    record = await insert_response(conn, user_id, new, self._tick())
                    # A place that followed the crashed stream ends on its partial reply.
                    await follow_leaf(
                        conn,
                        record.author or user_id,
                        record,
                        checkpoint_id,
                        format_time(record.create_time),
                    )
                    recovered.append(record)
                await conn.execute_fetchall(
                    "DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
                )
        return recovered
