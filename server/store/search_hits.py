"""A search's hits, assembled the same way by both stores from their rows.

The SQLite store's FTS5 search and the PostgreSQL store's tsvector search differ in SQL
only: both read rows of the same shape — (field, conversation title, marked snippet, the
response's columns or NULLs for a title, conversation id) — whose snippet carries the
private-use marks `MARK_OPEN` / `MARK_CLOSE` around matched words. Turning such a row into
a `SearchHitRecord` (marks out, their ranges kept, `…` where the text was cut) and giving
each hit its place among its siblings happen here once, so the two stores cannot drift
apart in what a hit says; each store keeps only its queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from grove_explorer.server.store.records import SearchHitRecord
from grove_explorer.server.store.rows import read_response

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
"""Around each matched word of a snippet as the database returns it (never in text shown)."""
ELLIPSIS = "…"
"""Where a snippet was cut from its text (FTS5 puts it in; PostgreSQL's rows say where)."""

BranchReader = Callable[[list[str]], Awaitable[Sequence[Sequence[Any]]]]
"""Reads (response_id, place, siblings) of the given response ids: one query of a store."""


def read_hit(
    row: Sequence[Any], cut_before: bool = False, cut_after: bool = False
) -> SearchHitRecord:
    """The hit of one row: (field, title, marked snippet, *R_COLUMNS, conversation_id).

    The response's columns are NULL for a title's hit. `cut_before` / `cut_after`: the
    snippet is not the start / the end of its text, so `ELLIPSIS` marks the cut (the
    matched ranges move with it).
    """
    response = read_response(row[3:-1]) if row[3] is not None else None
    snippet, spans = highlights(row[2] or "")
    if cut_before:
        snippet = ELLIPSIS + snippet
        spans = tuple((a + len(ELLIPSIS), b + len(ELLIPSIS)) for a, b in spans)
    if cut_after:
        snippet += ELLIPSIS
    return SearchHitRecord(row[-1], row[1], row[0], response, snippet, spans)


def highlights(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Removes a snippet's marks, returning the text and the marked ranges.

    An empty marked range (a mark pair around nothing) is dropped; a stray close mark is
    ignored.
    """
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    length = 0
    for char in marked:
        if char == MARK_OPEN:
            start = length
        elif char == MARK_CLOSE:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            text.append(char)
            length += 1
    return "".join(text), tuple(spans)


async def with_branches(
    hits: list[SearchHitRecord], read_branches: BranchReader
) -> list[SearchHitRecord]:
    """The hits with each response's place among its siblings (k/n, creation order).

    One read for all hits (`read_branches` of their sorted ids); a hit whose response is
    not found there (deleted meanwhile) gets (0, 0). Titles' hits have no branch.
    """
    ids = sorted({hit.response.response_id for hit in hits if hit.response is not None})
    if not ids:
        return hits
    rows = await read_branches(ids)
    branches = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    return [
        dataclasses.replace(hit, branch=branches.get(hit.response.response_id, (0, 0)))
        if hit.response is not None
        else hit
        for hit in hits
    ]
