"""Import into the PostgreSQL store: a whole exported forest in one transaction.

The SQLite store's import (server/store/sqlite/imports.py) on PostgreSQL. The rows are built
by the same code (`ImportRows`: ids, parents and fused sources mapped from the import's
local ids; given times kept, the others one microsecond apart) and written with COPY, a
batch per COPY as an `ImportStream` hands them, while the client may still be sending the
next: an import of 60,000 responses is a few dozen statements. Each COPY runs while the
next batch is received, checked and built (`write_batches`, shared with SQLite), so
PostgreSQL's work on a batch (its indexes and the search index: more than half of an
import's database time) overlaps this process's on the next. COPY's text format reads
the rows' 0/1 flags and ISO times into boolean and timestamptz columns, so the rows need
no second mapping.

The conversation is marked in `bulk_imports` while its rows go in, so the per-row
update_time trigger skips them (the time is set once at the end, `_touch`); the search
index takes each COPY's rows in one INSERT … SELECT after them (a statement-level trigger,
search_schema.py). A problem in any batch (an unknown parent, a seed out of range, a
count that does not match, the client going away) rolls everything back: nothing of the
import is stored, not even the conversation.

Times follow `Store.import_conversation`: an item's given `create_time` (and start) is
kept, the others come from the store's clock one microsecond apart (`tick_texts`), and
the conversation spans its rows (`conversation_span`); the rows are built by
server/store/import_rows.py, shared with SQLite.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from grove_explorer.server.store.import_batches import as_stream, write_batches
from grove_explorer.server.store.import_calls import ImportCalls, Written
from grove_explorer.server.store.import_rows import (
    ANNOTATION_COLUMNS,
    RESPONSE_COLUMNS,
    TOKEN_COLUMNS,
    ImportRows,
    conversation_span,
    tick_texts,
    uuid4_hexes,
)
from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.records import (
    ImportItem,
    ImportStream,
)
from grove_explorer.server.store.rows import (
    format_time,
)
from grove_explorer.server.store.sqlite.judgements import JUDGEMENT_COLUMNS, imported_rows


async def copy_rows(
    conn: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    written: asyncio.Event | None = None,
) -> None:
    """Writes `rows` into `table` with one COPY (text format: PostgreSQL parses each value).

    `written` is set once every row has been handed to the connection, before the COPY
    ends: what is left then (the last rows, the table's indexes and statement triggers) is
    PostgreSQL's work alone.
    """
    if not rows:
        if written is not None:
            written.set()
        return
    async with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            await copy.write_row(row)
        if written is not None:
            written.set()


async def _copy_responses(conn: Any, rows: list[list[Any]], handed: asyncio.Event) -> None:
    """COPYs a batch of response rows (`write_batches` runs it as a task).

    A batch's COPY is mostly PostgreSQL's work (parsing the rows, the indexes, the search
    index's trigger: more than half of it). The rows go out first (this process's work
    too); then PostgreSQL ends the COPY (the last rows, the indexes, the search trigger)
    while the next batch is received, checked and built.
    """
    await copy_rows(conn, "responses", RESPONSE_COLUMNS, rows, handed)


class ImportQueries(ImportCalls, PostgresDatabase):
    """Creates a conversation from imported responses, parents first (`ImportCalls`)."""

    async def _write_import(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        want_seqs: bool,
        create_time: datetime | None,
    ) -> Written:
        """Writes the conversation and its responses in one transaction (see the module)."""
        stream = as_stream(items)
        count = stream.count
        (conversation_id,) = uuid4_hexes(1)
        # Ascending ids: each batch lands at one place of the id indexes (as in SQLite).
        rows = ImportRows(user_id, conversation_id, sorted(uuid4_hexes(count)))
        async with self._transaction() as conn:
            stamp = self._tick() if create_time is None else create_time
            await conn.execute(
                "INSERT INTO conversations"
                " (conversation_id, user_id, title, starred, create_time, update_time)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (conversation_id, user_id, title, bool(starred), stamp, stamp),
            )
            await conn.execute(
                "INSERT INTO bulk_imports (conversation_id) VALUES (%s)", (conversation_id,)
            )
            first = self._ticks(count)
            times = tick_texts(first, count)
            given = await write_batches(
                stream, rows, times, functools.partial(_copy_responses, conn)
            )
            seqs: list[int] = []
            if want_seqs:  # one session's COPY takes the identity values in row order
                cursor = await conn.execute(
                    "SELECT seq FROM responses WHERE conversation_id = %s ORDER BY seq",
                    (conversation_id,),
                )
                seqs = [seq for (seq,) in await cursor.fetchall()]
            text_stamp = format_time(stamp)
            earliest, latest = conversation_span(text_stamp, create_time is None, rows)
            await conn.execute(
                "UPDATE conversations SET create_time = %s, update_time = %s"
                " WHERE conversation_id = %s",
                (earliest, latest, conversation_id),
            )
            await conn.execute(
                "DELETE FROM bulk_imports WHERE conversation_id = %s", (conversation_id,)
            )
            await copy_rows(conn, "response_tokens", TOKEN_COLUMNS, rows.tokens)
            await copy_rows(
                conn,
                "annotations",
                ANNOTATION_COLUMNS,
                [(*values, text_stamp) for values in rows.annotations],
            )
            if rows.judgements:
                judged = imported_rows(rows.judgements, conversation_id, user_id, text_stamp)
                await copy_rows(conn, "judgements", JUDGEMENT_COLUMNS, judged)
        return Written(conversation_id, rows.rows, rows.links, first, seqs, given, rows.ids)
