"""The responses table group of the PostgreSQL store: reads, paths, the checked insert, tokens.

The same behaviour as the SQLite store's (server/store/sqlite/responses.py), for several
replicas writing one database at once:

* The insert checks and writes in one statement: the conversation row is locked FOR KEY
  SHARE (a delete on another replica waits, or has committed and nothing is stored), and
  the parent must be a response of that conversation. A parent is only ever deleted with
  its conversation, so the lock keeps the check true until the commit.
* SQLite's group commit has no counterpart here: PostgreSQL runs the transactions of many
  connections at once, so each write is its own short transaction on a pooled
  connection. Concurrent writes on one conversation queue only on its row (the trigger
  that bumps `update_time`), never on the database.
* Paths keep the SQLite store's property that depth costs nothing on the hot path: a path
  read or stored recently is answered from `PathCache` after one indexed check (a path
  never changes once stored, on any replica); otherwise one recursive query walks the
  parents by primary key.

The reads and paths are `ResponseReads`' (server/store/response_reads.py), the same in
both stores; this module gives their statements, and writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, get_type_hints

from grove_explorer.server.store.postgres import one_statement
from grove_explorer.server.store.postgres.connection import PostgresDatabase
from grove_explorer.server.store.postgres.one_statement import NO_PLACE, PlaceChange, PlaceWrite
from grove_explorer.server.store.protocol import UnknownConversationError, UnknownParentError
from grove_explorer.server.store.records import (
    NewResponse,
    ResponseContent,
    ResponseRecord,
    SamplingRecord,
    TokenRow,
)
from grove_explorer.server.store.response_reads import (
    ResponseReads,
    ResponseStatements,
    stored_tokens,
)
from grove_explorer.server.store.rows import (
    CONTENT_COLUMNS,
    R_COLUMNS,
    RESPONSE_COLUMNS,
    content_values_pg,
    encode_tokens,
    stored_record,
)

if TYPE_CHECKING:
    import psycopg


def _content_types() -> dict[str, str]:
    """PostgreSQL's type of each content column, derived from `ResponseContent`'s fields.

    An INSERT ... SELECT of parameters does not take its types from the target columns: a
    NULL (a reply without sampling parameters) would arrive as text and be refused by a
    numeric column. Each parameter is cast to its column's kind instead, derived from the
    one declaration of a response's fields, so a new field needs nothing here.
    """
    kinds: dict[object, str] = {
        bool: "boolean",
        int: "bigint",
        int | None: "bigint",
        float: "double precision",
    }
    types: dict[str, str] = {}
    for name, kind in get_type_hints(ResponseContent).items():
        if kind == SamplingRecord | None:
            sampling = get_type_hints(SamplingRecord)
            types.update({column: kinds[sampling[column]] for column in sampling})
        else:
            types[name] = kinds.get(kind, "text")
    return types


_CONTENT_TYPES = _content_types()
assert set(_CONTENT_TYPES) == set(CONTENT_COLUMNS), "a content column without a type"

_INSERT_COLUMNS = ("user_id", "response_id", "create_time", "start_time", *CONTENT_COLUMNS)
_INSERT_TYPES = (
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    *(_CONTENT_TYPES[column] for column in CONTENT_COLUMNS),
)

# One statement both checks (the conversation is the user's, the parent is in it) and
# inserts; the conversation's update_time follows by trigger. `shared` starts false.
# The parent is looked up by its unique id alone (the LIMIT keeps the conversation test
# outside): psycopg prepares a statement run often, and the generic plan then walked the
# conversation's index until it met the parent, so a reply to a recent response (every
# reply) cost 0.6 ms more in a 3,000-response conversation, and more as it grew.
_INSERT_RESPONSE = f"""
    WITH owned AS (
        SELECT 1 FROM conversations WHERE conversation_id = %s AND user_id = %s
        FOR KEY SHARE
    )
    INSERT INTO responses ({", ".join(_INSERT_COLUMNS)})
    SELECT {", ".join(f"%s::{kind}" for kind in _INSERT_TYPES)} FROM owned
    WHERE %s::text IS NULL
       OR EXISTS (SELECT 1 FROM (SELECT conversation_id FROM responses
                                 WHERE response_id = %s LIMIT 1) AS parent
                  WHERE parent.conversation_id = %s)
    RETURNING seq
"""

# The checked insert as one_statement.py's `inserted` part (its parts need the new id).
_INSERT_RETURNING_ID = _INSERT_RESPONSE.replace("RETURNING seq", "RETURNING seq, response_id")

# One response by its unique id, as a row source aliased `r`. The LIMIT keeps the
# conversation's and user's conditions outside it: under a prepared statement's generic
# plan, `response_id = $1 AND conversation_id = $2` was answered by walking the
# conversation's index until the response came up (see test_postgres_plans.py).
_ONE = "(SELECT * FROM responses WHERE response_id = {} LIMIT 1) AS r"

# Walks parents from the response up to the root in one statement (PostgreSQL evaluates
# the recursion iteratively with a working table, so depth is unbounded). Each step is a
# LATERAL lookup of one parent by its unique id alone (the LIMIT keeps the other
# conditions outside, where the planner cannot use them to pick another index): as a
# plain join the planner, with a conversation's rows not yet analysed, scanned the whole
# conversation per step, and a 3,000-deep path took 2.9 s instead of milliseconds. The
# chain carries whole rows, so no join back to the table (a hash join over every
# conversation's responses) follows. `up.seq < chain.seq` holds for every real parent
# and guarantees termination even if the table were corrupted into a cycle.
_PATH_COLUMNS = ", ".join(RESPONSE_COLUMNS)
_PATH_TO = f"""
    WITH RECURSIVE chain({_PATH_COLUMNS}) AS (
        SELECT {R_COLUMNS} FROM {_ONE.format("%(response_id)s")}
        WHERE r.conversation_id = %(conversation_id)s AND r.user_id = %(user_id)s
        UNION ALL
        SELECT up.* FROM chain CROSS JOIN LATERAL (
            SELECT {R_COLUMNS} FROM responses AS r
            WHERE r.response_id = chain.parent_response_id
            LIMIT 1
        ) AS up
        WHERE up.conversation_id = %(conversation_id)s AND up.seq < chain.seq
    )
    SELECT {_PATH_COLUMNS} FROM chain ORDER BY seq
"""

_IN_CONVERSATION = (
    f"SELECT 1 FROM {_ONE.format('%s')} WHERE r.conversation_id = %s AND r.user_id = %s"
)
_GET_RESPONSE = (
    f"SELECT {R_COLUMNS} FROM {_ONE.format('%s')} WHERE r.conversation_id = %s AND r.user_id = %s"
)
_RESPONSE_TOKENS = (
    f"SELECT t.data FROM {_ONE.format('%s')}"
    " LEFT JOIN response_tokens AS t ON t.response_id = r.response_id"
    " WHERE r.conversation_id = %s AND r.user_id = %s"
)
# A request's latest reply (by the partial index `responses_request`, whose condition is
# repeated) and the human message it answers, when that carries the same request id: the
# parent is looked up by its unique id alone (LATERAL ... LIMIT 1, as `_PATH_TO` does),
# which the generic plan otherwise did by scanning responses for the request id.
_REQUEST_RESPONSES = f"""
    WITH reply AS (
        SELECT * FROM responses
        WHERE request_id = %s AND request_id <> '' AND sender = 'model'
          AND (author = %s OR (author = '' AND user_id = %s))
        ORDER BY seq DESC LIMIT 1
    )
    SELECT {R_COLUMNS} FROM reply AS r
    UNION ALL
    SELECT {R_COLUMNS} FROM reply AS m CROSS JOIN LATERAL (
        SELECT * FROM responses WHERE response_id = m.parent_response_id LIMIT 1
    ) AS r
    WHERE r.request_id = %s
    ORDER BY seq
"""

# The caller's latest human message of a request, by the partial index of migration 6
# (its condition repeated).
_REQUEST_MESSAGE = f"""
    SELECT {R_COLUMNS} FROM responses AS r
    WHERE r.request_id = %s AND r.request_id <> '' AND r.sender = 'human'
      AND (r.author = %s OR (r.author = '' AND r.user_id = %s))
    ORDER BY r.seq DESC LIMIT 1
"""


_STATEMENTS = ResponseStatements(
    list_responses=f"SELECT {R_COLUMNS} FROM responses AS r"
    " WHERE r.conversation_id = %s AND r.user_id = %s ORDER BY r.start_time, r.seq",
    one=_GET_RESPONSE,
    in_conversation=_IN_CONVERSATION,
    path_to=_PATH_TO,
    tokens=_RESPONSE_TOKENS,
    request_responses=_REQUEST_RESPONSES,
    request_message=_REQUEST_MESSAGE,
)


def _insert_values(
    user_id: str, new: NewResponse, now: datetime
) -> tuple[tuple[Any, ...], str, datetime]:
    """The checked insert's parameters, the new response's id and its start time.

    Raises ValueError for a seed outside [0, 2**64) before anything is sent.
    """
    values = content_values_pg(new)
    response_id = uuid.uuid4().hex
    start = now if new.start_time is None else new.start_time
    parameters: tuple[Any, ...] = (
        new.conversation_id,
        user_id,
        user_id,
        response_id,
        now,
        start,
        *values,
        new.parent_response_id,
        new.parent_response_id,
        new.conversation_id,
    )
    return parameters, response_id, start


async def insert_response(
    conn: psycopg.AsyncConnection[Any],
    user_id: str,
    new: NewResponse,
    now: datetime,
    *,
    encoded: bytes | None = None,
    place: PlaceChange = NO_PLACE,
    checkpoint_id: str | None = None,
) -> ResponseRecord:
    """Inserts one response with its tokens, place and checkpoint's deletion, on `conn`.

    One statement (one_statement.py): atomic on an autocommit connection, and part of the
    caller's transaction on one in a transaction. `encoded` is `new.tokens` encoded
    already (so a pooled connection is not held while the event loop encodes).

    Raises UnknownConversationError or UnknownParentError when the checked insert stores
    nothing (then nothing at all is written, and a transaction is still usable: no
    statement failed), ValueError for a seed outside [0, 2**64) before anything is sent.
    """
    insert, response_id, start = _insert_values(user_id, new, now)
    if encoded is None and new.tokens:
        encoded = encode_tokens(new.tokens)
    sql = one_statement.statement(
        _INSERT_RETURNING_ID, encoded is not None, place.kind, checkpoint_id is not None
    )
    values = one_statement.parameters(
        insert,
        tokens=encoded,
        place=place,
        response_id=response_id,
        conversation_id=new.conversation_id,
        now=now,
        is_reply=new.sender == "model",
        checkpoint_id=checkpoint_id,
    )
    cursor = await conn.execute(sql, values)
    row = await cursor.fetchone()
    if row is None:
        await _raise_insert_refusal(conn, user_id, new)
    return stored_record(
        new, response_id=response_id, seq=int(row[0]), create_time=now, start_time=start
    )


async def _raise_insert_refusal(
    conn: psycopg.AsyncConnection[Any], user_id: str, new: NewResponse
) -> NoReturn:
    """Says why the checked insert stored nothing: no such conversation, or parent."""
    cursor = await conn.execute(
        "SELECT 1 FROM conversations WHERE conversation_id = %s AND user_id = %s",
        (new.conversation_id, user_id),
    )
    if await cursor.fetchone() is None:
        raise UnknownConversationError(f"conversation {new.conversation_id!r} does not exist")
    raise UnknownParentError(
        f"response {new.parent_response_id!r} is not in conversation {new.conversation_id!r}"
    )


class ResponseQueries(ResponseReads, PostgresDatabase):
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

        One statement in autocommit (one_statement.py): the checked insert (and its
        tokens), the place that follows stream `leaf_follows` (or, with
        `start_following`, starts following it on this human message), and the deletion
        of the stream's checkpoint; all of it or nothing.
        Raises UnknownConversationError or UnknownParentError; nothing is written then.
        Raises ValueError for a seed outside [0, 2**64).
        """
        encoded = encode_tokens(new.tokens) if new.tokens else None
        # A writer's stream moves the writer's place (author), not the owner's.
        place = NO_PLACE
        if leaf_follows is not None:
            kind: PlaceWrite = "start" if start_following else "follow"
            place = PlaceChange(kind, new.author or user_id, leaf_follows)
        now = self._tick()
        async with self._connection() as conn:
            record = await insert_response(
                conn,
                user_id,
                new,
                now,
                encoded=encoded,
                place=place,
                checkpoint_id=checkpoint_id,
            )
        self.paths.extend(user_id, record)
        return record

    async def responses_tokens(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> dict[str, list[TokenRow]]:
        """The stored tokens of many responses ([] if none), keyed by id; one query.

        Ids that are not the user's responses in this conversation are left out. The ids
        go as one array parameter, so there is no limit on how many to batch around.
        """
        wanted = list(dict.fromkeys(response_ids))
        if not wanted:
            return {}
        rows = await self._read(
            "SELECT r.response_id, t.data FROM responses AS r"
            " LEFT JOIN response_tokens AS t ON t.response_id = r.response_id"
            " WHERE r.response_id = ANY(%s) AND r.conversation_id = %s AND r.user_id = %s",
            (wanted, conversation_id, user_id),
        )
        return {rid: stored_tokens(data) for rid, data in rows}

    async def mark_shared(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> int:
        """Marks the given responses shared; returns how many rows changed.

        Only rows that were not shared yet count; ids outside the user's conversation are
        ignored. One statement with the ids as an array, however long the path.
        """
        self._require_open()
        if not response_ids:
            return 0
        self.paths.clear()  # cached records would show the old `shared`
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE responses SET shared = true WHERE response_id = ANY(%s)"
                " AND conversation_id = %s AND user_id = %s AND NOT shared",
                (list(response_ids), conversation_id, user_id),
            )
            return cursor.rowcount
