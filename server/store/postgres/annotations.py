"""The annotations table of the PostgreSQL store: a user's marks on responses."""

from __future__ import annotations

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.records import AnnotationRecord
from grove_explorer.server.store.rows import annotation_values, read_annotation

# The response row is locked FOR KEY SHARE while its annotation is written: a delete of
# its conversation on another replica waits for the commit (and cascades to the
# annotation) or has committed first and the response is not found — never a foreign key
# error half-way.
_OWNED_RESPONSE = (
    "SELECT 1 FROM responses WHERE response_id = %s AND conversation_id = %s AND user_id = %s"
    " FOR KEY SHARE"
)

_UPSERT = (
    "INSERT INTO annotations"
    " (response_id, user_id, bookmarked, tags, rating, note, update_time)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (response_id) DO UPDATE SET user_id = excluded.user_id,"
    " bookmarked = excluded.bookmarked,"
    " tags = excluded.tags, rating = excluded.rating, note = excluded.note,"
    " update_time = excluded.update_time"
)


class AnnotationQueries(PostgresDatabase):
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
        now = self._tick()
        async with self._transaction() as conn:
            cursor = await conn.execute(_OWNED_RESPONSE, (response_id, conversation_id, user_id))
            if await cursor.fetchone() is None:
                return False
            if annotation.empty:
                await conn.execute("DELETE FROM annotations WHERE response_id = %s", (response_id,))
                return True
            bookmarked, tags, rating, note = annotation_values(annotation)
            # PostgreSQL's boolean column takes no integer (SQLite's 0/1).
            setter = author or user_id
            await conn.execute(
                _UPSERT, (response_id, setter, bool(bookmarked), tags, rating, note, now)
            )
            # The index's tag and note rows name who set them, as the row does (its
            # update trigger copies only the texts); search scopes by the owner anyway.
            await conn.execute(
                "UPDATE search_rows SET user_id = %s WHERE ref_id = %s"
                " AND kind IN ('tag', 'note') AND user_id <> %s",
                (setter, response_id, setter),
            )
        return True

    async def annotations(self, user_id: str, conversation_id: str) -> dict[str, AnnotationRecord]:
        """The annotations of a conversation's responses, by response id, with who set each."""
        rows = await self._read(
            "SELECT a.response_id, a.bookmarked, a.tags, a.rating, a.note, a.user_id"
            " FROM annotations AS a JOIN responses AS r ON r.response_id = a.response_id"
            " WHERE r.conversation_id = %s AND r.user_id = %s",
            (conversation_id, user_id),
        )
        return {row[0]: read_annotation(row[1:]) for row in rows}
