"""The responses table group of the SQLite store: reads, paths, the checked insert, tokens.

The reads and paths (with the cache of recent paths) are `ResponseReads`', the same in
both stores (server/store/response_reads.py); this module gives their statements, and
writes: the checked insert, group-committed, and the shared flag.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

import aiosqlite

from grove_explorer.server.store.protocol import UnknownConversationError, UnknownParentError
from grove_explorer.server.store.records import NewResponse, ResponseRecord, TokenRow
from grove_explorer.server.store.response_reads import (
    ResponseReads,
    ResponseStatements,
    stored_tokens,
)
from grove_explorer.server.store.rows import (
    CONTENT_COLUMNS,
    R_COLUMNS,
    content_values,
    encode_tokens,
    format_time,
    parse_time,
    stored_record,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase
from grove_explorer.server.store.sqlite.leaves import follow_leaf_now, start_following_now

# One statement both checks (the conversation is the user's, the parent is in it) and
# inserts: under load every round trip to the database thread counts. The conversation's
# update_time follows by trigger (migration 6); `shared` starts at its default, 0.
_INSERT_COLUMNS = ("user_id", "response_id", "create_time", "start_time", *CONTENT_COLUMNS)
_INSERT_RESPONSE = f"""
    INSERT INTO responses ({", ".join(_INSERT_COLUMNS)})
    SELECT {", ".join("?" for _ in _INSERT_COLUMNS)}
    WHERE EXISTS (SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?)
      AND (? IS NULL OR EXISTS (SELECT 1 FROM responses
                                WHERE response_id = ? AND conversation_id = ?))
"""

# Walks parents from the response up to the root in one statement (SQLite evaluates the
# recursion with a queue, not a stack, so depth is unbounded). `r.seq < chain.seq` holds for
# every real parent (a parent exists before its child) and guarantees termination even if
# the table were corrupted into a cycle.
_PATH_TO = f"""
    WITH RECURSIVE chain(seq, parent_response_id) AS (
        SELECT seq, parent_response_id FROM responses
        WHERE response_id = :response_id AND conversation_id = :conversation_id
              AND user_id = :user_id
        UNION ALL
        SELECT r.seq, r.parent_response_id
        FROM chain JOIN responses AS r ON r.response_id = chain.parent_response_id
        WHERE r.conversation_id = :conversation_id AND r.seq < chain.seq
    )
    SELECT {R_COLUMNS} FROM chain JOIN responses AS r ON r.seq = chain.seq
    ORDER BY r.seq
"""


_TOKEN_BATCH = 500
"""Ids per query of `responses_tokens` (SQLite allows 32,766 bound parameters)."""

_ONE_OF_USER = "WHERE r.response_id = ? AND r.conversation_id = ? AND r.user_id = ?"

# A request's latest reply (by the partial index `responses_request`, whose condition is
# repeated) and the human message it answers, when that carries the same request id. Each
# part looks its row up by its unique id (`=` a scalar subquery): as a join, or with `IN`
# once the table's statistics say it is small, SQLite scanned every response instead.
_REQUEST_RESPONSES = f"""
    WITH reply AS (
        SELECT response_id, parent_response_id FROM responses
        WHERE request_id = ? AND request_id <> '' AND sender = 'model'
          AND (author = ? OR (author = '' AND user_id = ?))
        ORDER BY seq DESC LIMIT 1
    )
    SELECT {R_COLUMNS} FROM responses AS r
    WHERE r.response_id = (SELECT parent_response_id FROM reply) AND r.request_id = ?
    UNION ALL
    SELECT {R_COLUMNS} FROM responses AS r WHERE r.response_id = (SELECT response_id FROM reply)
    ORDER BY seq
"""

# The caller's latest human message of a request, by the partial index of migration 18
# (its condition repeated).
_REQUEST_MESSAGE = f"""
    SELECT {R_COLUMNS} FROM responses AS r
    WHERE r.request_id = ? AND r.request_id <> '' AND r.sender = 'human'
      AND (r.author = ? OR (r.author = '' AND r.user_id = ?))
    ORDER BY r.seq DESC LIMIT 1
"""


_STATEMENTS = ResponseStatements(
    list_responses=f"SELECT {R_COLUMNS} FROM responses AS r"
    " WHERE r.conversation_id = ? AND r.user_id = ? ORDER BY r.start_time, r.seq",
    one=f"SELECT {R_COLUMNS} FROM responses AS r {_ONE_OF_USER}",
    in_conversation=f"SELECT 1 FROM responses AS r {_ONE_OF_USER}",
    path_to=_PATH_TO,
    tokens="SELECT t.data FROM responses AS r"
    f" LEFT JOIN response_tokens AS t ON t.response_id = r.response_id {_ONE_OF_USER}",
    request_responses=_REQUEST_RESPONSES,
    request_message=_REQUEST_MESSAGE,
)


def insert_response_now(
    conn: sqlite3.Connection, user_id: str, new: NewResponse, now: datetime
) -> ResponseRecord:
    """Inserts one response (and its tokens) inside the caller's write transaction.

    Runs on the writer's thread (a group commit, or `insert_response` from the loop).
    Raises UnknownConversationError or UnknownParentError when the checked insert stores
    nothing, ValueError for a seed outside [0, 2**64).
    """
    values = content_values(new)
    response_id = uuid.uuid4().hex
    stamp = format_time(now)
    start = stamp if new.start_time is None else format_time(new.start_time)
    cursor = conn.execute(
        _INSERT_RESPONSE,
        (
            user_id,
            response_id,
            stamp,
            start,
            *values,
            new.conversation_id,
            user_id,
            new.parent_response_id,
            new.parent_response_id,
            new.conversation_id,
        ),
    )
    if cursor.rowcount != 1:
        _raise_insert_refusal(conn, user_id, new)
    seq = cursor.lastrowid
    if new.tokens:
        conn.execute(
            "INSERT INTO response_tokens (response_id, data) VALUES (?, ?)",
            (response_id, encode_tokens(new.tokens)),
        )
    assert seq is not None
    return stored_record(
        new,
        response_id=response_id,
        seq=int(seq),
        create_time=parse_time(stamp),
        start_time=parse_time(start),
    )


async def insert_response(
    conn: aiosqlite.Connection, user_id: str, new: NewResponse, now: datetime
) -> ResponseRecord:
    """`insert_response_now` inside an aiosqlite transaction: one trip to its thread."""
    record: ResponseRecord = await conn._execute(insert_response_now, conn._conn, user_id, new, now)
    return record


def _raise_insert_refusal(conn: sqlite3.Connection, user_id: str, new: NewResponse) -> NoReturn:
    """Says why the checked insert stored nothing: no such conversation, or parent."""
    checks = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM conversations"
        "               WHERE conversation_id = :cid AND user_id = :uid)",
        {"cid": new.conversation_id, "uid": user_id},
    ).fetchall()
    if not checks[0][0]:
        raise UnknownConversationError(f"conversation {new.conversation_id!r} does not exist")
    raise UnknownParentError(
        f"response {new.parent_response_id!r} is not in conversation {new.conversation_id!r}"
    )


class ResponseQueries(ResponseReads, SqliteDatabase):
    """A conversation's responses: creation order, paths, inserts, stored tokens, sharing."""

    STATEMENTS = _STATEMENTS

    async def add_response(
        self,
        user_id: str,
        new: NewResponse,
        *,
        checkpoint_id: str | None = None,
        leaf_follows: str | None = None,
        start_following: bool = False,
    ) -> ResponseRecord:
        """Inserts a response atomically and bumps the conversation's update time.

        Ownership of the conversation and membership of the parent are checked inside the
        write transaction, so a concurrent delete cannot slip between check and insert.
        The stream's checkpoint (if named) is deleted, and the user's place moves to the new
        response when it follows stream `leaf_follows`, in the same transaction.
        `start_following` (a select_reply stream's human message) first makes the user
        follow stream `leaf_follows`, as `set_leaf(parent, follows=leaf_follows)` would,
        so the stream's start and its first response are one write: the place ends on the
        new response, still following the stream.
        Raises UnknownConversationError or UnknownParentError; nothing is written then.
        Raises ValueError for a seed outside [0, 2**64).
        """

        def write(conn: sqlite3.Connection, now: datetime) -> ResponseRecord:
            record = insert_response_now(conn, user_id, new, now)
            if start_following and leaf_follows is not None:
                # The insert checked what set_leaf checks (the conversation is the user's,
                # the parent is in it); set_leaf then the follow leave this row.
                start_following_now(conn, record.author or user_id, record, leaf_follows)
            else:
                stamp = format_time(record.create_time)
                # A writer's stream moves the writer's place (author), not the owner's.
                follow_leaf_now(conn, record.author or user_id, record, leaf_follows, stamp)
            if checkpoint_id is not None:
                conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
            return record

        # Group-committed: the writes of every stream starting or ending meanwhile share
        # one transaction (see connection.py).
        record = await self._write(write)
        self.paths.extend(user_id, record)
        return record

    async def responses_tokens(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> dict[str, list[TokenRow]]:
        """The stored tokens of many responses ([] if none), keyed by id.

        Ids that are not the user's responses in this conversation are left out (the
        caller says which). Read `_TOKEN_BATCH` ids per query: one query per reply was one
        trip to the reader's thread each, and an `IN (...)` list must stay under SQLite's
        limit on bound parameters.
        """
        wanted = list(dict.fromkeys(response_ids))
        found: dict[str, list[TokenRow]] = {}
        for start in range(0, len(wanted), _TOKEN_BATCH):
            chunk = wanted[start : start + _TOKEN_BATCH]
            marks = ", ".join("?" * len(chunk))
            rows = await self._read(
                "SELECT r.response_id, t.data FROM responses AS r"
                " LEFT JOIN response_tokens AS t ON t.response_id = r.response_id"
                f" WHERE r.response_id IN ({marks}) AND r.conversation_id = ? AND r.user_id = ?",
                (*chunk, conversation_id, user_id),
            )
            for response_id, data in rows:
                found[response_id] = stored_tokens(data)
        return found

    async def mark_shared(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> int:
        """Marks the given responses shared; returns how many rows changed.

        Only rows that were not shared yet count, and ids outside the user's conversation
        are ignored. One UPDATE per id (executemany) keeps clear of SQLite's limit on bound
        parameters, which a long shared path would exceed in an `IN (...)` list.
        """
        self._require_open()
        if not response_ids:
            return 0
        self.paths.clear()  # cached records would show the old `shared`
        async with (
            self._transaction() as conn,
            conn.executemany(
                "UPDATE responses SET shared = 1 WHERE response_id = ? AND conversation_id = ?"
                " AND user_id = ? AND shared = 0",
                [(response_id, conversation_id, user_id) for response_id in response_ids],
            ) as cursor,
        ):
            return cursor.rowcount
