"""Checkpoints in the PostgreSQL store: the text of running streams, and its recovery.

The SQLite store's semantics (server/store/sqlite/checkpoints.py), with the payload in the
same JSON, for several replicas on one database: each replica writes its checkpoints
under its own owner id (server/owners.py); a replica's sweep turns only the checkpoints
of owners that are gone into partial replies. Two replicas sweeping at once never
recover one checkpoint twice: the orphans are locked `FOR UPDATE SKIP LOCKED` in the
recovering transaction, so the second skips what the first holds and, once the first
committed, finds them deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime

from grove_explorer.server.store.checkpoint_payload import decode_new_response, encode_new_response
from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.postgres.leaves import follow_leaf
from grove_explorer.server.store.postgres.responses import insert_response
from grove_explorer.server.store.protocol import UnknownConversationError, UnknownParentError
from grove_explorer.server.store.records import Checkpoint, ResponseRecord
from grove_explorer.server.store.rows import parse_time

# Written only while the conversation is the user's: the row is locked FOR KEY SHARE, so
# a delete on another replica waits, or committed first and the checkpoint is skipped
# (never a foreign key error failing the whole batch). The owner stays the first writer's.
_UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (checkpoint_id, user_id, conversation_id, response,"
    "                         create_time, update_time, owner)"
    " SELECT %(id)s, %(uid)s, %(cid)s, %(response)s, %(now)s, %(now)s, %(owner)s"
    " FROM conversations WHERE conversation_id = %(cid)s AND user_id = %(uid)s"
    " FOR KEY SHARE"
    " ON CONFLICT (checkpoint_id) DO UPDATE"
    " SET response = excluded.response, update_time = excluded.update_time"
)


class CheckpointQueries(PostgresDatabase):
    """Periodic saves of streaming replies; partial replies from those a crash left."""

    async def save_checkpoints(self, checkpoints: Sequence[Checkpoint], owner: str = "") -> None:
        """Upserts the current text of running streams, all in one transaction.

        One transaction (statements pipelined by psycopg's executemany) for every stream
        keeps the cost of checkpointing flat however many streams run. Checkpoints of
        conversations deleted meanwhile are skipped. `owner` names the replica writing
        them, so another replica never takes a live one's checkpoints for a crash's.
        """
        if not checkpoints:
            return
        now = self._tick()
        rows = [
            {
                "id": c.checkpoint_id,
                "uid": c.user_id,
                "cid": c.response.conversation_id,
                "response": encode_new_response(c.response),
                "owner": owner,
                "now": now,
            }
            for c in checkpoints
        ]
        async with self._transaction() as conn, conn.cursor() as cursor:
            await cursor.executemany(_UPSERT_CHECKPOINT, rows)

    async def discard_checkpoint(self, checkpoint_id: str) -> None:
        """Deletes a checkpoint whose stream ended without storing a reply."""
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = %s", (checkpoint_id,))

    async def recover_checkpoints(
        self, is_orphan: Callable[[str, datetime], bool] = lambda owner, updated: True
    ) -> list[ResponseRecord]:
        """Turns checkpoints whose writer is gone into partial replies; returns them.

        `is_orphan(owner, update_time)` says whether a checkpoint's writer is gone; those
        of live replicas are left alone and never locked (their next save must not wait).
        A writer on another host is also gone when its presence connection is
        (`announce_owner`): no clock decides, so a replica killed on host A is recovered
        by host B at B's next sweep. A checkpoint whose parent vanished (its conversation
        was deleted) is dropped. A place that followed the crashed stream ends on its
        partial reply.
        """
        is_orphan = self._with_presence(is_orphan, await self._present_owners())
        candidates = await self._read("SELECT checkpoint_id, owner, update_time FROM checkpoints")
        orphans = [
            checkpoint_id
            for checkpoint_id, owner, updated in candidates
            if is_orphan(owner, parse_time(updated))
        ]
        if not orphans:
            return []
        recovered: list[ResponseRecord] = []
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "SELECT checkpoint_id, user_id, response, owner, update_time FROM checkpoints"
                " WHERE checkpoint_id = ANY(%s) ORDER BY create_time, checkpoint_id"
                " FOR UPDATE SKIP LOCKED",
                (orphans,),
            )
            for checkpoint_id, user_id, data, owner, updated in await cursor.fetchall():
                if not is_orphan(owner, parse_time(updated)):
                    continue  # saved again since it was read: its writer lives after all
                new = decode_new_response(data)
                with suppress(UnknownConversationError, UnknownParentError):
                    record = await insert_response(conn, user_id, new, self._tick())
                    await follow_leaf(conn, record.author or user_id, record, checkpoint_id)
                    recovered.append(record)
                await conn.execute(
                    "DELETE FROM checkpoints WHERE checkpoint_id = %s", (checkpoint_id,)
                )
        return recovered
