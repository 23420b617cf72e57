"""The annotations table of the SQLite store: a user's marks on responses."""

from __future__ import annotations

from grove_explorer.server.store.records import AnnotationRecord
from grove_explorer.server.store.rows import (
    annotation_values,
    format_time,
    read_annotation,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase


class AnnotationQueries(SqliteDatabase):
    """Bookmarks, tags, ratings and notes, one row per annotated response."""

    async def annotate(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str,
        annotation: AnnotationRecord,
        *,
        author: str = "",
    ) -> bool:
        """Sets (or, when empty, removes) the annotation; False if not the user's response.

        `user_id` is the conversation's owner (the check); the row records `author`, who
        set it ("": the owner), so a writer's marks are theirs.
        """
        async with self._transaction() as conn:
            owned = list(
                await conn.execute_fetchall(
                    "SELECT 1 FROM responses"
                    " WHERE response_id = ? AND conversation_id = ? AND user_id = ?",
                    (response_id, conversation_id, user_id),
                )
            )
            if not owned:
                return False
            if annotation.empty:
                await conn.execute_fetchall(
                    "DELETE FROM annotations WHERE response_id = ?", (response_id,)
                )
                return True
            await conn.execute_fetchall(
                "INSERT INTO annotations"
                " (response_id, user_id, bookmarked, tags, rating, note, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (response_id) DO UPDATE SET user_id = excluded.user_id,"
                " bookmarked = excluded.bookmarked,"
                " tags = excluded.tags, rating = excluded.rating, note = excluded.note,"
                " update_time = excluded.update_time",
                (
                    response_id,
                    author or user_id,
                    *annotation_values(annotation),
                    format_time(self._tick()),
                ),
            )
            # The index's tag and note rows name who set them, as the row does (its
            # update trigger copies only the texts); search scopes by the owner anyway.
            await conn.execute_fetchall(
                "UPDATE search_rows SET user_id = ? WHERE ref_id = ?"
                " AND kind IN ('tag', 'note') AND user_id != ?",
                (author or user_id, response_id, author or user_id),
            )
        return True

    async def annotations(self, user_id: str, conversation_id: str) -> dict[str, AnnotationRecord]:
        """The annotations of a conversation's responses, by response id, with who set each."""
        rows = await self._read(
            "SELECT a.response_id, a.bookmarked, a.tags, a.rating, a.note, a.user_id"
            " FROM annotations AS a JOIN responses AS r ON r.response_id = a.response_id"
            " WHERE r.conversation_id = ? AND r.user_id = ?",
            (conversation_id, user_id),
        )
        return {row[0]: read_annotation(row[1:]) for row in rows}
