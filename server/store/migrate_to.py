"""`grove db migrate-to postgresql://…`: a SQLite database copied into an empty PostgreSQL one.

Every row of every table the stores share is copied as stored — conversations, responses
with every column and their `seq` (so creation order and ids stay), tokens, annotations,
places (leaves), judgements, arena votes, checkpoints, users and API keys (only hashes are
stored, so the same keys keep working against the new database). The search index is not
copied: PostgreSQL's triggers build it from the copied rows, in its own form.

Why this shape:

* The target must be empty (no Grove rows, no tables of anything else): a copy into a
  database in use would mix two histories. An empty Grove schema (a store opened once)
  counts as empty.
* The SQLite file is brought to the current schema first, as `grove serve` would, so the
  two schemas match column for column (PostgreSQL's version 1 is SQLite's version 15).
* The SQLite side is read in one snapshot (a running server may keep writing); the
  copy is one transaction on one connection, each table one COPY in creation order
  (COPY's text format parses SQLite's ISO times and 0/1 flags into timestamptz and
  boolean). Identity columns PostgreSQL alone has (conversations', votes' and judgements'
  `seq`) are numbered in the SQLite rows' order. The counts of every table, and of the
  search index, are compared before COMMIT: a difference, or any failure midway, rolls
  everything back and the target holds no row of the copy.
* Conversations are marked in `bulk_imports` during the copy, so the per-row update_time
  trigger leaves their stored update times as they were.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres.failures import storage_failure
from grove_explorer.server.store.protocol import StoreError

TABLES: tuple[tuple[str, str], ...] = (
    ("users", "rowid"),
    ("api_keys", "rowid"),
    ("conversations", "rowid"),
    ("responses", "seq"),
    ("leaves", "rowid"),
    ("annotations", "rowid"),
    ("response_tokens", "rowid"),
    ("checkpoints", "rowid"),
    ("judgements", "rowid"),
    ("arena_votes", "rowid"),
    ("shares", "conversation_id, user_id"),
)
"""Every table copied, parents before the rows that reference them, with the SQLite order
its rows are copied in (the order PostgreSQL numbers its own identity columns in)."""

NOT_COPIED = frozenset({"schema_version", "bulk_imports", "search_rows"})
"""Tables each store keeps for itself: versions, the import mark, the search index."""

_BATCH = 2_000


class MigrateError(StoreError):
    """The copy cannot be made (or did not match); the message says why. Nothing was kept."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """Rows per table in the source and, after the copy, in the target (equal)."""

    counts: tuple[tuple[str, int], ...]
    search_rows: int

    def table(self) -> str:
        """The counts as the command prints them."""
        width = max(len(name) for name, _ in self.counts)
        lines = [f"{name.ljust(width)}  {count}" for name, count in self.counts]
        lines.append(f"{'search index'.ljust(width)}  {self.search_rows} (rebuilt)")
        return "\n".join(lines)


async def migrate_to_postgres(
    source: Path, target: PostgresUrl, *, progress: Callable[[str], None] | None = None
) -> CopyReport:
    """Copies the SQLite database `source` into the empty PostgreSQL database `target`.

    Raises MigrateError (a sentence) when the target is not empty or the copy does not
    match; StorageFailure / SchemaVersionError when either database cannot be used. The
    copy itself runs on a worker thread (plain sqlite3 and psycopg connections).
    """
    say = progress or (lambda _text: None)
    await asyncio.to_thread(_check_both, source, target)
    say(f"Bringing {source} and {target} to the current schema …")
    await _open_both(source, target)
    return await asyncio.to_thread(_copy, source, target, say)


def _check_both(source: Path, target: PostgresUrl) -> None:
    """MigrateError when there is no source file or the target is not empty."""
    import psycopg

    if not source.exists():
        raise MigrateError(f"There is no SQLite database at {source}.")
    try:
        conn = psycopg.connect(target.url, autocommit=True)
    except psycopg.Error as error:
        failure = storage_failure(error, target)
        if failure is None:
            raise
        raise failure from error
    with conn:
        _require_empty(conn, target)


def _copy(source: Path, target: PostgresUrl, say: Callable[[str], None]) -> CopyReport:
    import psycopg

    lite = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        # One read snapshot for every table: a server writing meanwhile cannot make the
        # copy's tables disagree (its later writes are simply not in the copy).
        lite.execute("BEGIN")
        with psycopg.connect(target.url, autocommit=True) as conn:
            _require_empty(conn, target)  # again: nobody wrote meanwhile
            _require_same_tables(lite, conn)
            with conn.transaction():
                return _copy_all(lite, conn, say)
    finally:
        lite.close()


async def _open_both(source: Path, target: PostgresUrl) -> None:
    """Opens (and so migrates) both stores once."""
    from grove_explorer.server.store.postgres import PostgresStore
    from grove_explorer.server.store.sqlite import SqliteStore

    async with SqliteStore(source):
        pass
    async with PostgresStore(target):
        pass


def _user_tables(conn: Any) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        " AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {row[0] for row in rows}


def _require_empty(conn: Any, target: PostgresUrl) -> None:
    """MigrateError unless the target holds no rows of Grove's and no other tables."""
    tables = _user_tables(conn)
    grove = {name for name, _ in TABLES} | NOT_COPIED
    others = sorted(tables - grove)
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise MigrateError(
            f"The PostgreSQL database {target} is not empty: it holds tables that are not "
            f"Grove's ({shown}). Migrate into a new, empty database (CREATE DATABASE …)."
        )
    for name, _ in TABLES:
        if name in tables and conn.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone()[0]:
            raise MigrateError(
                f"The PostgreSQL database {target} is not empty: its {name} table holds "
                "rows. Migrate into a new, empty database, so two histories are not mixed."
            )


def _require_same_tables(lite: sqlite3.Connection, conn: Any) -> None:
    """MigrateError if either schema has a table this copy does not know (a newer Grove)."""
    in_sqlite = {
        row[0]
        for row in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search_text%'"
        )
    }
    known = {name for name, _ in TABLES} | NOT_COPIED
    unknown = sorted((in_sqlite | _user_tables(conn)) - known)
    if unknown:
        raise MigrateError(
            f"This Grove does not know how to copy the table(s) {', '.join(unknown)}; "
            "nothing was copied. Use the Grove version that wrote the database."
        )


def _columns(lite: sqlite3.Connection, conn: Any, table: str) -> list[str]:
    """The columns both schemas give `table` (PostgreSQL-only identity columns left out)."""
    in_sqlite = [row[1] for row in lite.execute(f"PRAGMA table_info('{table}')")]
    in_postgres = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchall()
    }
    missing = [name for name in in_sqlite if name not in in_postgres]
    if missing:
        raise MigrateError(
            f"PostgreSQL's {table} table has no column {missing[0]!r}; nothing was copied."
        )
    return in_sqlite


def _rows(lite: sqlite3.Connection, table: str, columns: list[str], order: str) -> Iterator[Any]:
    cursor = lite.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
    while batch := cursor.fetchmany(_BATCH):
        yield from batch


def _copy_all(lite: sqlite3.Connection, conn: Any, say: Callable[[str], None]) -> CopyReport:
    """Every table in one transaction (the caller's), then the counts compared."""
    counts: list[tuple[str, int]] = []
    for table, order in TABLES:
        columns = _columns(lite, conn, table)
        (expected,) = lite.execute(f"SELECT count(*) FROM {table}").fetchone()
        say(f"Copying {table} ({expected} rows) …")
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in _rows(lite, table, columns, order):
                    copy.write_row(row)
            if table == "conversations":
                # Their responses' rows leave the stored update times alone (see module).
                conn.execute("INSERT INTO bulk_imports SELECT conversation_id FROM conversations")
        (copied,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        if copied != expected:
            raise MigrateError(
                f"The copy of {table} holds {copied} rows where SQLite has {expected}; "
                "nothing was kept."
            )
        counts.append((table, int(copied)))
    conn.execute("DELETE FROM bulk_imports")
    for table in ("conversations", "responses", "arena_votes", "judgements"):
        # COPY wrote the identity values it was given: the next ones come after them.
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'),"
            f" coalesce((SELECT max(seq) FROM {table}), 0) + 1, false)"
        )
    (search_rows,) = conn.execute("SELECT count(*) FROM search_rows").fetchone()
    by_table = dict(counts)
    expected_index = by_table["conversations"] + by_table["responses"] + 2 * by_table["annotations"]
    if search_rows != expected_index:
        raise MigrateError(
            f"The search index holds {search_rows} rows where {expected_index} were "
            "expected; nothing was kept."
        )
    return CopyReport(tuple(counts), int(search_rows))
