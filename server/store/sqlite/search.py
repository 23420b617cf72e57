"""Full-text search of the SQLite store: FTS5 over messages, titles, tags and notes.

Only the queries are here: the filters' conditions come from server/store/search_filters.py
in SQLite's words (`SQLITE`), and a row becomes a hit, and hits get their branches, as in
the PostgreSQL store (server/store/search_hits.py).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from grove_explorer.server.store.records import SearchFilters, SearchHitRecord
from grove_explorer.server.store.rows import R_COLUMNS
from grove_explorer.server.store.search_filters import SqlDialect, filter_sql, readable
from grove_explorer.server.store.search_hits import (
    ELLIPSIS,
    MARK_CLOSE,
    MARK_OPEN,
    read_hit,
    with_branches,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

SQLITE = SqlDialect(
    parameter=lambda name: f":{name}",
    has_tag=lambda tag: f"EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value = {tag})",
    is_set=lambda flag: f"{flag} = 1",
)
"""SQLite's named parameters, its JSON table of a tag list, 0/1 flags."""


class SearchQueries(SqliteDatabase):
    """Searches a user's conversations (the index is kept by triggers, see migrations)."""

    async def search(
        self,
        user_id: str,
        match: str | None,
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[SearchHitRecord]:
        """Best matches first of an FTS5 expression (None: filters alone, newest first).

        `offset` skips that many hits of the same order, for paging. Raises ValueError with
        SQLite's words when the expression is not valid FTS5.
        """
        scope, parameters = _scope(user_id, match, filters)
        parameters.update({"limit": limit, "offset": offset})
        if match is None:
            sql = (
                f"SELECT 'message', c.title, substr(r.message, 1, 200), {R_COLUMNS},"
                f" c.conversation_id {scope}"
                " ORDER BY r.seq DESC LIMIT :limit OFFSET :offset"
            )
        else:
            sql = (
                "SELECT s.kind, c.title,"
                f" snippet(search_text, 0, '{MARK_OPEN}', '{MARK_CLOSE}', '{ELLIPSIS}', 16),"
                f" {R_COLUMNS}, c.conversation_id {scope}"
                " ORDER BY bm25(search_text), s.id LIMIT :limit OFFSET :offset"
            )
        try:
            rows = await self._read(sql, parameters)
        except sqlite3.OperationalError as error:
            raise ValueError(str(error)) from None
        hits = [read_hit(row) for row in rows]  # FTS5 puts the cut marks in the snippet
        return await with_branches(hits, self._branches)

    async def _branches(self, ids: list[str]) -> list[Any]:
        """(response_id, place, siblings) of each id: one query for a page (`with_branches`).

        Places count in creation order, (start_time, seq), as in list_responses.
        """
        return await self._read(
            "SELECT r.response_id,"
            " (SELECT COUNT(*) FROM responses AS s WHERE s.conversation_id = r.conversation_id"
            "    AND s.parent_response_id IS r.parent_response_id"
            "    AND (s.start_time, s.seq) <= (r.start_time, r.seq)),"
            " (SELECT COUNT(*) FROM responses AS s WHERE s.conversation_id = r.conversation_id"
            "    AND s.parent_response_id IS r.parent_response_id)"
            " FROM responses AS r WHERE r.response_id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )

    async def count_search(self, user_id: str, match: str | None, filters: SearchFilters) -> int:
        """How many hits `search` has in all for the expression and filters.

        Raises ValueError with SQLite's words when the expression is not valid FTS5.
        """
        scope, parameters = _scope(user_id, match, filters)
        sql = f"SELECT count(*) {scope}"
        try:
            rows = await self._read(sql, parameters)
        except sqlite3.OperationalError as error:
            raise ValueError(str(error)) from None
        return int(rows[0][0]) if rows else 0


def _scope(user_id: str, match: str | None, filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """The FROM … WHERE of a search and its parameters (what `search` lists and counts).

    Without an expression: the responses the user may read (theirs and those of
    conversations shared with them) that pass the filters; with one, the FTS5
    rows it matches (titles too, unless a filter only applies to responses).
    """
    conditions, parameters = filter_sql(filters, SQLITE)
    parameters["uid"] = user_id
    if match is None:
        return (
            "FROM responses AS r"
            " JOIN conversations AS c ON c.conversation_id = r.conversation_id"
            " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
            f" WHERE {readable('r', SQLITE)} {conditions}"
        ), parameters
    parameters["match"] = match
    only_responses = " AND r.response_id IS NOT NULL" if filters.on_responses else ""
    return (
        "FROM search_text JOIN search_rows AS s ON s.id = search_text.rowid"
        " JOIN conversations AS c ON c.conversation_id = s.conversation_id"
        " LEFT JOIN responses AS r"
        "     ON s.kind != 'title' AND r.response_id = s.ref_id"
        " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
        f" WHERE search_text MATCH :match AND {readable('c', SQLITE)}"
        f" {only_responses} {conditions}"
    ), parameters
