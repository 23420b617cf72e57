"""Import into the SQLite store: a whole exported forest in one transaction.

The rows are built in Python (ids, times, parents mapped from the import's local ids)
and written with multi-row INSERTs (a thousand rows each, see `_insert_rows`), each
thousand inserted on the database's thread while the next is built: an import of 60,000
responses is a few dozen statements, not two per response, and no row needs a check
against the table (the conversation was created by this transaction and every parent is
a row of this same batch). The per-row search and update_time triggers are skipped for
the import's conversation (`bulk_imports`, migration 10): each batch's messages are indexed
by INSERT … SELECT after its rows (`_insert_and_index`), the update_time set once
(`_touch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import aiosqlite

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
from grove_explorer.server.store.records import (
    ImportItem,
    ImportStream,
)
from grove_explorer.server.store.rows import (
    format_time,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase
from grove_explorer.server.store.sqlite.judgements import JUDGEMENT_COLUMNS, imported_rows

_chain = chain.from_iterable
# Most bound parameters one statement may hold: 32,766 since SQLite 3.32, 999 before.
_MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_MAX_ROWS = 1_000


async def _insert_rows(
    conn: aiosqlite.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Inserts `rows` with multi-row INSERT statements of up to `_MAX_ROWS` rows each.

    Not one statement per row (`executemany`): every statement on a table with a search
    trigger makes FTS5 write out its pending terms (it syncs at each statement's
    savepoint), so a row per statement wrote one tiny index segment per response and
    spent most of an import merging them. Chunks keep that to one flush per thousand
    rows and stay under SQLite's limit on bound parameters.
    """
    per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMETERS // len(columns)))
    one_row = f"({', '.join('?' for _ in columns)})"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        await conn.execute_fetchall(head + ", ".join(one_row for _ in chunk), list(_chain(chunk)))


def _insert_and_index_now(
    conn: sqlite3.Connection,
    conversation_id: str,
    statements: Sequence[tuple[str, list[Any]]],
    span: tuple[str, str] | None,
) -> None:
    """Inserts a batch of response rows, then what the skipped search trigger would add.

    Runs on the database's thread, all of it in one trip (`_insert_and_index`): the
    event loop's thread is checking the next batch meanwhile, and each statement's
    return to it would wait for that. The INSERT statements come built, with their
    values in one list each (`_row_statements`): made there, that Python work would
    hold the interpreter lock here. `span`: the batch's first and last response id.

    One search row per message in creation order (the ids the per-row trigger would have
    given them: after the title's, before any annotation's), and their texts in one FTS5
    statement. Per batch rather than once after the last one: the tokenising then runs
    while the next batch is checked (and, streamed, while the client sends it), not after.
    The batch's ids are ascending in creation order (`_write_import`), so its rows are
    one range of the id indexes; `+conversation_id` keeps SQLite on that range (the
    conversation's index would read every row imported so far, for every batch).
    """
    for sql, values in statements:
        conn.execute(sql, values)
    if span is None:
        return
    where = (*span, conversation_id)
    conn.execute(
        "INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)"
        " SELECT 'message', response_id, conversation_id, user_id FROM responses"
        " WHERE response_id BETWEEN ? AND ? AND +conversation_id = ? ORDER BY response_id",
        where,
    )
    conn.execute(
        "INSERT INTO search_text (rowid, text)"
        " SELECT s.id, r.message FROM search_rows AS s"
        " JOIN responses AS r ON r.response_id = s.ref_id"
        " WHERE s.ref_id BETWEEN ? AND ? AND +s.conversation_id = ? AND s.kind = 'message'"
        " ORDER BY s.id",
        where,
    )


_RESPONSE_INSERT = f"INSERT INTO responses ({', '.join(RESPONSE_COLUMNS)}) VALUES "
_RESPONSE_ROW = f"({', '.join('?' for _ in RESPONSE_COLUMNS)})"


def _row_statements(rows: Sequence[Sequence[Any]]) -> list[tuple[str, list[Any]]]:
    """The multi-row INSERTs of response `rows` (see `_insert_rows`), values flattened."""
    per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMETERS // len(RESPONSE_COLUMNS)))
    statements = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        statements.append(
            (
                _RESPONSE_INSERT + ", ".join(_RESPONSE_ROW for _ in chunk),
                list(_chain(chunk)),  # flattened in C: 30,000 values a statement
            )
        )
    return statements


async def _insert_and_index(
    conn: aiosqlite.Connection, conversation_id: str, rows: Sequence[Sequence[Any]]
) -> None:
    """`_insert_and_index_now` of `rows` on the connection's thread, in one trip."""
    span = (rows[0][1], rows[-1][1]) if rows else None
    statements = _row_statements(rows)
    await conn._execute(_insert_and_index_now, conn._conn, conversation_id, statements, span)


async def _touch(
    conn: aiosqlite.Connection, conversation_id: str, earliest: str, latest: str
) -> None:
    """What the skipped update_time trigger would have done, once; the kept create_time.

    update_time is set to the latest time of the conversation and its rows (the last
    row's, unless the import kept its file's times), create_time to the earliest (kept
    times may come before the conversation's own); then the conversation leaves
    `bulk_imports`, so every later insert into it runs the triggers again.
    """
    await conn.execute_fetchall(
        "UPDATE conversations SET create_time = ?, update_time = ? WHERE conversation_id = ?",
        (earliest, latest, conversation_id),
    )
    await conn.execute_fetchall(
        "DELETE FROM bulk_imports WHERE conversation_id = ?", (conversation_id,)
    )


async def _insert_batch(
    conn: aiosqlite.Connection,
    conversation_id: str,
    rows: list[list[Any]],
    handed: asyncio.Event,
) -> None:
    """`_insert_and_index` of a batch (`write_batches` runs it as a task).

    `handed` is set at once: in the task's first step the batch is handed to the
    database's thread (aiosqlite queues it before its first await), and checking the next
    batch yields no turn, so without the wait for it the insert would only start when the
    next batch is done, and the two would take turns.
    """
    handed.set()
    await _insert_and_index(conn, conversation_id, rows)


class ImportQueries(ImportCalls, SqliteDatabase):
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
        # Random ids handed out in ascending order: each index on them (responses' unique
        # id, search_rows' ref_id) then takes the batch at one place instead of at 60,000
        # random places, and the search fill reads the rows back in index order (a sixth
        # of the import's SQLite time). Nothing orders responses by id.
        response_ids = sorted(uuid4_hexes(count))
        rows = ImportRows(user_id, conversation_id, response_ids)
        async with self._transaction() as conn, self._checkpoint_after(conn):
            stamp = format_time(self._tick() if create_time is None else create_time)
            await conn.execute_fetchall(
                "INSERT INTO conversations"
                " (conversation_id, user_id, title, starred, create_time, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, user_id, title, int(starred), stamp, stamp),
            )
            # Its rows skip the per-row search and update_time triggers (migration 10):
            # indexed and touched once below, before the flag goes in this transaction.
            await conn.execute_fetchall(
                "INSERT INTO bulk_imports (conversation_id) VALUES (?)", (conversation_id,)
            )
            first = self._ticks(count)
            times = tick_texts(first, count)
            # Each thousand rows is inserted (on the database's thread) while the next
            # thousand is built here: SQLite's work and Python's overlap.
            given = await write_batches(
                stream, rows, times, functools.partial(_insert_batch, conn, conversation_id)
            )
            seqs: list[int] = []
            if want_seqs:  # in insertion order: the rows of one transaction get increasing seq
                seqs = [
                    seq
                    for (seq,) in await conn.execute_fetchall(
                        "SELECT seq FROM responses WHERE conversation_id = ? ORDER BY seq",
                        (conversation_id,),
                    )
                ]
            await _touch(
                conn, conversation_id, *conversation_span(stamp, create_time is None, rows)
            )
            await _insert_rows(conn, "response_tokens", TOKEN_COLUMNS, rows.tokens)
            await _insert_rows(
                conn,
                "annotations",
                ANNOTATION_COLUMNS,
                [(*values, stamp) for values in rows.annotations],
            )
            if rows.judgements:
                judged = imported_rows(rows.judgements, conversation_id, user_id, stamp)
                await _insert_rows(conn, "judgements", JUDGEMENT_COLUMNS, judged)
        return Written(conversation_id, rows.rows, rows.links, first, seqs, given, rows.ids)

    @contextlib.asynccontextmanager
    async def _checkpoint_after(self, conn: aiosqlite.Connection) -> AsyncIterator[None]:
        """The import's COMMIT without SQLite's automatic checkpoint; one just after instead.

        A commit that leaves the write-ahead log over `wal_autocheckpoint` pages copies it
        into the database file before COMMIT returns: after an import of 60,000
        responses that was a tenth of the call, spent before the reply could go. Here the
        import commits with the automatic checkpoint off, and the same PASSIVE checkpoint
        runs right after, under the write lock, while the reply
        goes out. The commit's durability is the same: the log is synced at COMMIT.
        """
        ((limit,),) = list(await conn.execute_fetchall("PRAGMA wal_autocheckpoint"))
        await conn.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            task = asyncio.ensure_future(self._checkpoint(int(limit)))
            _CHECKPOINTS.add(task)
            task.add_done_callback(_CHECKPOINTS.discard)

    async def _checkpoint(self, limit: int) -> None:
        """Restores the automatic checkpoint (`limit` pages) and runs the one it skipped."""
        async with self._write_lock:
            writer = self._writer
            if writer is None:  # closed meanwhile: the next open checkpoints
                return
            with contextlib.suppress(sqlite3.Error, ValueError):  # ValueError: closed
                await writer.execute_fetchall(f"PRAGMA wal_autocheckpoint = {limit}")
                await writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")


_CHECKPOINTS: set[asyncio.Future[None]] = set()
"""Checkpoints scheduled after imports, kept referenced until they have run."""
