"""Import into the SQLite store: a whole exported forest in one transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from grove_explorer.server.store.protocol import UnknownParentError
from grove_explorer.server.store.records import ConversationRecord, ImportItem
from grove_explorer.server.store.sqlite.connection import SqliteDatabase
from grove_explorer.server.store.sqlite.responses import insert_response
from grove_explorer.server.store.sqlite.rows import (
    CONVERSATION_SELECT,
    annotation_values,
    format_time,
    read_conversation,
)


class ImportQueries(SqliteDatabase):
    """Creates a conversation from imported responses, parents first."""

    async def import_conversation(
        self, user_id: str, title: str, starred: bool, items: Sequence[ImportItem]
    ) -> ConversationRecord:
        """Creates a conversation holding `items` (parents first) in one transaction.

        Raises UnknownParentError when an item names a parent not imported before it;
        nothing is stored then.
        """
        conversation_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            stamp = format_time(self._tick())
            await conn.execute_fetchall(
                "INSERT INTO conversations"
                " (conversation_id, user_id, title, starred, create_time, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, user_id, title, int(starred), stamp, stamp),
            )
            ids: dict[str, str] = {}
            for item in items:
                parent = None
                if item.parent_local_id is not None:
                    parent = ids.get(item.parent_local_id)
                    if parent is None:
                        raise UnknownParentError(
                            f"response {item.local_id!r} names parent "
                            f"{item.parent_local_id!r}, which does not come before it"
                        )
                new = dataclasses.replace(
                    item.response, conversation_id=conversation_id, parent_response_id=parent
                )
                stored = await insert_response(conn, user_id, new, self._tick())
                ids[item.local_id] = stored.response_id
                if item.shared:
                    await conn.execute_fetchall(
                        "UPDATE responses SET shared = 1 WHERE response_id = ?",
                        (stored.response_id,),
                    )
                annotation = item.annotation
                if annotation is not None and not annotation.empty:
                    await conn.execute_fetchall(
                        "INSERT INTO annotations (response_id, user_id, bookmarked, tags,"
                        " rating, note, update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (stored.response_id, user_id, *annotation_values(annotation), stamp),
                    )
        rows = await self._read(
            CONVERSATION_SELECT + " WHERE c.conversation_id = ? AND c.user_id = ?",
            (conversation_id, user_id),
        )
        return read_conversation(rows[0])
