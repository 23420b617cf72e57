"""Full-text search of the SQLite store: FTS5 over messages, titles, tags and notes."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from grove_explorer.server.store.records import SearchFilters, SearchHitRecord
from grove_explorer.server.store.rows import R_COLUMNS, read_response
from grove_explorer.server.store.sqlite.connection import SqliteDatabase

_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"


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
                f" snippet(search_text, 0, '{_MARK_OPEN}', '{_MARK_CLOSE}', '…', 16),"
                f" {R_COLUMNS}, c.conversation_id {scope}"
                " ORDER BY bm25(search_text), s.id LIMIT :limit OFFSET :offset"
            )
        try:
            rows = await self._read(sql, parameters)
        except sqlite3.OperationalError as error:
            raise ValueError(str(error)) from None
        hits = []
        for row in rows:
            response = read_response(row[3:]) if row[3] is not None else None
            snippet, spans = _highlights(row[2] or "")
            hits.append(SearchHitRecord(row[-1], row[1], row[0], response, snippet, spans))
        return await self._with_branches(hits)

    async def _with_branches(self, hits: list[SearchHitRecord]) -> list[SearchHitRecord]:
        """The hits with each response's place among its siblings (k/n, creation order).

        One query for all hits; creation order is (start_time, seq), as in list_responses.
        """
        ids = sorted({hit.response.response_id for hit in hits if hit.response is not None})
        if not ids:
            return hits
        rows = await self._read(
            "SELECT r.response_id,"
            " (SELECT COUNT(*) FROM responses AS s WHERE s.conversation_id = r.conversation_id"
            "    AND s.parent_response_id IS r.parent_response_id"
            "    AND (s.start_time, s.seq) <= (r.start_time, r.seq)),"
            " (SELECT COUNT(*) FROM responses AS s WHERE s.conversation_id = r.conversation_id"
            "    AND s.parent_response_id IS r.parent_response_id)"
            " FROM responses AS r WHERE r.response_id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        branches = {row[0]: (int(row[1]), int(row[2])) for row in rows}
        return [
            dataclasses.replace(hit, branch=branches.get(hit.response.response_id, (0, 0)))
            if hit.response is not None
            else hit
            for hit in hits
        ]

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


def _highlights(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Removes FTS5's snippet markers, returning the text and the marked ranges."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    length = 0
    for char in marked:
        if char == _MARK_OPEN:
            start = length
        elif char == _MARK_CLOSE:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            text.append(char)
            length += 1
    return "".join(text), tuple(spans)


def _scope(user_id: str, match: str | None, filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """The FROM … WHERE of a search and its parameters (what `search` lists and counts).

    Without an expression: the responses the user may read (theirs and those of
    conversations shared with them) that pass the filters; with one, the FTS5
    rows it matches (titles too, unless a filter only applies to responses).
    """
    conditions, parameters = _filter_sql(filters)
    parameters["uid"] = user_id
    if match is None:
        return (
            "FROM responses AS r"
            " JOIN conversations AS c ON c.conversation_id = r.conversation_id"
            " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
            f" WHERE {_readable('r')} {conditions}"
        ), parameters
    parameters["match"] = match
    only_responses = " AND r.response_id IS NOT NULL" if filters.on_responses else ""
    return (
        "FROM search_text JOIN search_rows AS s ON s.id = search_text.rowid"
        " JOIN conversations AS c ON c.conversation_id = s.conversation_id"
        " LEFT JOIN responses AS r"
        "     ON s.kind != 'title' AND r.response_id = s.ref_id"
        " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
        f" WHERE search_text MATCH :match AND {_readable('c')}"
        f" {only_responses} {conditions}"
    ), parameters


def _readable(table: str) -> str:
    """The condition that a row of `table` is in a conversation :uid may read.

    Owned (the row's user_id is the conversation's owner: `r` responses, `c`
    conversations) or shared with them (the shares_user index gives the few shared
    conversation ids). Never an index row's own user_id: a tag or note row names who set
    it, a writer too, and the owner must find it (and a revoked writer not).
    """
    return (
        f"({table}.user_id = :uid OR {table}.conversation_id IN"
        " (SELECT conversation_id FROM shares WHERE user_id = :uid))"
    )


def _filter_sql(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """SQL conditions (on `r` responses and `a` annotations) for a query's filters."""
    conditions: list[str] = []
    parameters: dict[str, Any] = {}
    if filters.sender:
        conditions.append("r.sender = :sender")
        parameters["sender"] = filters.sender
    if filters.model:
        conditions.append("r.model_name = :model")
        parameters["model"] = filters.model
    for i, tag in enumerate(filters.tags):
        conditions.append(f"EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value = :tag{i})")
        parameters[f"tag{i}"] = tag
    if filters.rating is not None:
        conditions.append("a.rating = :rating")
        parameters["rating"] = filters.rating
    if filters.bookmarked:
        conditions.append("a.bookmarked = 1")
    if filters.partial:
        conditions.append("r.partial = 1")
    return "".join(f" AND {c}" for c in conditions), parameters
