"""Full-text search of the PostgreSQL store: tsvector + GIN over messages, titles, tags, notes.

The same expressions, filters, hits and counts as the SQLite store's FTS5 search
(server/store/sqlite/search.py): the index (search_rows, migration 2, search_schema.py)
holds the same rows, cut into words the same way, and the expression becomes a tsquery
built from quoted lexemes (search_query.py), never user text parsed as tsquery syntax.

Order: best first by `ts_rank` (normalised by the text's length, as bm25 favours short
texts), ties in index order, so pages (`offset`) never repeat or skip a hit. Snippets are
`ts_headline`'s, with the SQLite store's private-use marks around matched words and `…`
where the text was cut; the ranking and the window chosen are PostgreSQL's, so they can
differ from FTS5's in detail while the hits and counts do not.

As in the SQLite store, the filters' conditions (search_filters.py, in PostgreSQL's words:
`POSTGRES`) and the assembly of hits from rows (search_hits.py) are shared.
"""

from __future__ import annotations

from typing import Any

from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.postgres.search_query import (
    Lexemes,
    Phrase,
    parse_expression,
    phrases,
    render,
)
from grove_explorer.server.store.records import SearchFilters, SearchHitRecord
from grove_explorer.server.store.rows import R_COLUMNS
from grove_explorer.server.store.search_filters import SqlDialect, filter_sql, readable
from grove_explorer.server.store.search_hits import MARK_CLOSE, MARK_OPEN, read_hit, with_branches

SNIPPET_WORDS = 16
"""Words of a snippet at most, as FTS5's snippet(…, 16)."""

_HEADLINE_OPTIONS = (
    f'StartSel="{MARK_OPEN}", StopSel="{MARK_CLOSE}", MaxWords={SNIPPET_WORDS},'
    f" MinWords={SNIPPET_WORDS - 2}, ShortWord=0, HighlightAll=false"
)
_WHOLE_OPTIONS = f'StartSel="{MARK_OPEN}", StopSel="{MARK_CLOSE}", HighlightAll=true'
"""A text of at most `SNIPPET_WORDS` words is its own snippet (as in FTS5), marked."""

POSTGRES = SqlDialect(
    parameter=lambda name: f"%({name})s",
    has_tag=lambda tag: (
        "EXISTS (SELECT 1 FROM json_array_elements_text(a.tags::json)"
        f" AS t (value) WHERE t.value = {tag})"
    ),
    is_set=lambda flag: flag,
)
"""psycopg's named parameters, the JSON text of tags read as json, boolean flags."""

_BODY = (
    "CASE page.kind WHEN 'title' THEN c.title WHEN 'message' THEN r.message"
    " WHEN 'note' THEN a.note ELSE grove_tags_text(a.tags) END"
)


class SearchQueries(PostgresDatabase):
    """Searches a user's conversations (the index is kept by triggers, see search_schema.py)."""

    async def search(
        self,
        user_id: str,
        match: str | None,
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[SearchHitRecord]:
        """Best matches first of a search expression (None: filters alone, newest first).

        `offset` skips that many hits of the same order, for paging. Raises ValueError with
        a sentence when the expression cannot be read.
        """
        conditions, parameters = filter_sql(filters, POSTGRES)
        parameters.update({"uid": user_id, "limit": limit, "offset": offset})
        if match is None:
            rows = await self._read(
                f"SELECT 'message', c.title, left(r.message, 200), {R_COLUMNS},"
                " c.conversation_id, false, false"
                " FROM responses AS r"
                " JOIN conversations AS c ON c.conversation_id = r.conversation_id"
                " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
                f" WHERE {readable('r', POSTGRES)} {conditions}"
                " ORDER BY r.seq DESC LIMIT %(limit)s OFFSET %(offset)s",
                parameters,
            )
        else:
            query = await self._tsquery(match)
            if query is None:
                return []
            parameters.update(
                {
                    "query": query,
                    "options": _HEADLINE_OPTIONS,
                    "whole": _WHOLE_OPTIONS,
                    "words": SNIPPET_WORDS,
                    "open": MARK_OPEN,
                    "close": MARK_CLOSE,
                }
            )
            # The page first (filters, rank, LIMIT), then its snippets: ts_headline
            # re-reads a text, so it runs for the page's rows only.
            rows = await self._read(
                "SELECT page.kind, c.title, hl.marked,"
                f" {R_COLUMNS}, c.conversation_id,"
                " NOT starts_with(body.text, hl.plain),"
                " right(body.text, length(hl.plain)) <> hl.plain"
                f" FROM ({_page_sql(filters, conditions)}) AS page"
                " JOIN conversations AS c ON c.conversation_id = page.conversation_id"
                " LEFT JOIN responses AS r"
                "     ON page.kind <> 'title' AND r.response_id = page.ref_id"
                " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
                f" CROSS JOIN LATERAL (SELECT coalesce({_BODY}, '') AS text) AS body"
                " CROSS JOIN LATERAL (SELECT ts_headline('grove_search', body.text,"
                "     %(query)s::tsquery,"
                "     CASE WHEN length(body.text) <= 400 AND cardinality("
                "         regexp_split_to_array(btrim(body.text), '\\s+')) <= %(words)s"
                "     THEN %(whole)s ELSE %(options)s END) AS marked) AS headline"
                " CROSS JOIN LATERAL (SELECT headline.marked,"
                "     replace(replace(headline.marked, %(open)s, ''), %(close)s, '') AS plain)"
                "     AS hl"
                " ORDER BY page.rank DESC, page.id",
                parameters,
            )
        # The last two columns say where the snippet was cut from its text.
        hits = [read_hit(row[:-2], row[-2], row[-1]) for row in rows]
        return await with_branches(hits, self._branches)

    async def count_search(self, user_id: str, match: str | None, filters: SearchFilters) -> int:
        """How many hits `search` has in all for the expression and filters.

        Raises ValueError with a sentence when the expression cannot be read.
        """
        conditions, parameters = filter_sql(filters, POSTGRES)
        parameters["uid"] = user_id
        if match is None:
            sql = (
                "SELECT count(*) FROM responses AS r"
                " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
                f" WHERE {readable('r', POSTGRES)} {conditions}"
            )
        else:
            query = await self._tsquery(match)
            if query is None:
                return 0
            parameters["query"] = query
            sql = f"SELECT count(*) {_matching_sql(filters, conditions)}"
        rows = await self._read(sql, parameters)
        return int(rows[0][0]) if rows else 0

    async def _tsquery(self, match: str) -> str | None:
        """The tsquery text of an expression (None: it matches nothing); ValueError if bad.

        Each phrase's words are cut by the index's own function, in one read.
        """
        tree = parse_expression(match)
        texts = list(dict.fromkeys(phrases(tree)))  # a phrase given twice is cut once
        rows = await self._read(
            "SELECT t.i, v.lexeme, p.position"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS t (body, i),"
            " LATERAL unnest(grove_search_document(t.body)) AS v,"
            " LATERAL unnest(v.positions) AS p (position)"
            " ORDER BY t.i, p.position",
            ([phrase.text for phrase in texts],),
        )
        words: dict[Phrase, list[tuple[str, int]]] = {}
        for index, lexeme, position in rows:
            words.setdefault(texts[int(index) - 1], []).append((lexeme, int(position)))
        found: dict[Phrase, Lexemes] = dict(words)
        return render(tree, found)

    async def _branches(self, ids: list[str]) -> list[Any]:
        """(response_id, place, siblings) of each id: one query for a page (`with_branches`).

        Places count in creation order, (start_time, seq), as in list_responses.

        Siblings by the parent index (roots by the conversation's): `IS NOT DISTINCT
        FROM` would read the whole conversation for every hit. The unused branch is
        skipped by its condition on `r` alone.
        """
        return await self._read(
            "SELECT r.response_id,"
            " count(*) FILTER (WHERE (s.start_time, s.seq) <= (r.start_time, r.seq)),"
            " count(*)"
            " FROM responses AS r CROSS JOIN LATERAL ("
            "   SELECT s.start_time, s.seq FROM responses AS s"
            "   WHERE r.parent_response_id IS NOT NULL"
            "     AND s.parent_response_id = r.parent_response_id"
            "     AND s.conversation_id = r.conversation_id"
            "   UNION ALL"
            "   SELECT s.start_time, s.seq FROM responses AS s"
            "   WHERE r.parent_response_id IS NULL AND s.parent_response_id IS NULL"
            "     AND s.conversation_id = r.conversation_id"
            " ) AS s"
            " WHERE r.response_id = ANY(%s) GROUP BY r.response_id, r.start_time, r.seq",
            (ids,),
        )


def _matching_sql(filters: SearchFilters, conditions: str) -> str:
    """The FROM … WHERE of the index rows that match `%(query)s` and pass the filters.

    Titles too, unless a filter only applies to responses (as the SQLite store).
    """
    only_responses = " AND r.response_id IS NOT NULL" if filters.on_responses else ""
    return (
        "FROM search_rows AS s"
        " JOIN conversations AS c ON c.conversation_id = s.conversation_id"
        " LEFT JOIN responses AS r ON s.kind <> 'title' AND r.response_id = s.ref_id"
        " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
        f" WHERE s.document @@ %(query)s::tsquery AND {readable('c', POSTGRES)}"
        f" {only_responses} {conditions}"
    )


def _page_sql(filters: SearchFilters, conditions: str) -> str:
    """One page of matching index rows, best first: id, kind, ref, conversation, rank."""
    return (
        "SELECT s.id, s.kind, s.ref_id, s.conversation_id,"
        " ts_rank(s.document, %(query)s::tsquery, 1) AS rank"
        f" {_matching_sql(filters, conditions)}"
        " ORDER BY rank DESC, s.id LIMIT %(limit)s OFFSET %(offset)s"
    )
