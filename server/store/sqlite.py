"""The SQLite implementation of the `Store` protocol.

Design, and why:

* Every sqlite call runs on an aiosqlite worker thread, so the event loop never blocks on
  disk I/O.
* One write connection carries every write. Its transactions are serialised by an
  `asyncio.Lock` (FIFO, so writes are applied in arrival order), because statements of two
  coroutines must not interleave inside one transaction on a shared connection. A single
  writer also means `BEGIN IMMEDIATE` never waits on ourselves; it only waits (busy_timeout)
  on another process.
* Reads use a second connection. In WAL mode readers never block the writer nor wait for
  it, and each read is one statement, hence one consistent snapshot, without any lock.
* Every multi-statement write is one explicit `BEGIN IMMEDIATE ... COMMIT` transaction and
  is rolled back on any error, including cancellation of the caller, so nothing is stored
  half-way and the connection is never left inside a transaction.
* Every query is scoped by user_id: another user's conversation is indistinguishable from
  a missing one.

Times are timezone-aware UTC datetimes, stored as ISO-8601 text with microseconds (exact
round trip, sorts as text). The store's clock is strictly increasing across its writes, so
update order and creation order never tie, even where the system clock is coarse or steps
back a little.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import sqlite3
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, Self

import aiosqlite

from grove_explorer.server.store.migrations import migrate
from grove_explorer.server.store.protocol import (
    AnnotationRecord,
    ApiKeyCheck,
    ApiKeyRecord,
    Checkpoint,
    ConversationRecord,
    DuplicateApiKeyError,
    ImportItem,
    NewResponse,
    ResponseRecord,
    SamplingRecord,
    SearchFilters,
    SearchHitRecord,
    TokenRow,
    UnknownConversationError,
    UnknownParentError,
)

__all__ = ["SqliteStore", "StoreClosedError"]

Durability = Literal["normal", "full"]

_SYNCHRONOUS: dict[str, str] = {"normal": "NORMAL", "full": "FULL"}
_BUSY_TIMEOUT_MS = 5000

# Seeds are proto uint64. SQLite integers are signed 64-bit, so seeds >= 2**63 are stored
# as their two's-complement negative; the mapping is a bijection on [0, 2**64).
_SEED_LIMIT = 2**64
_SEED_SIGN = 2**63


class StoreClosedError(RuntimeError):
    """The store is not open: `open()` was not awaited yet, or `close()` was called."""


class _State(enum.Enum):
    NEW = "new"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_RESPONSE_COLUMNS = (
    "response_id",
    "conversation_id",
    "seq",
    "message",
    "sender",
    "create_time",
    "parent_response_id",
    "manual",
    "partial",
    "shared",
    "query",
    "query_type",
    "model_name",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "token_count",
    "time_to_first_token_seconds",
    "total_time_seconds",
    "prefix_length",
)
_R_COLUMNS = ", ".join(f"r.{column}" for column in _RESPONSE_COLUMNS)

_CONVERSATION_SELECT = """
    SELECT c.conversation_id, c.user_id, c.title, c.starred, c.create_time, c.update_time,
           (SELECT COUNT(*) FROM responses AS r WHERE r.conversation_id = c.conversation_id)
    FROM conversations AS c
"""

# One statement both checks (the conversation is the user's, the parent is in it) and
# inserts: under load every round trip to the database thread counts. The conversation's
# update_time follows by trigger (migration 6).
_INSERT_RESPONSE = f"""
    INSERT INTO responses (user_id, {", ".join(c for c in _RESPONSE_COLUMNS if c != "seq")})
    SELECT {", ".join("?" for c in _RESPONSE_COLUMNS)}
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
    SELECT {_R_COLUMNS} FROM chain JOIN responses AS r ON r.seq = chain.seq
    ORDER BY r.seq
"""


_API_KEY_SELECT = "SELECT key_id, user_id, label, create_time, revoked, revoke_time FROM api_keys"

# Always one row: the key's owner and state (NULLs when no key has that hash), and whether
# any key is active. Both parts are index lookups (primary key, partial index).
_CHECK_API_KEY = """
    SELECT k.user_id, COALESCE(k.revoked, 0),
           EXISTS (SELECT 1 FROM api_keys WHERE revoked = 0)
    FROM (SELECT 1) LEFT JOIN api_keys AS k ON k.key_hash = ?
"""


def _format_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order and microseconds survive."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    """Inverse of `_format_time`, always timezone-aware UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _encode_seed(seed: int) -> int:
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed - _SEED_LIMIT if seed >= _SEED_SIGN else seed


def _decode_seed(stored: int) -> int:
    return stored + _SEED_LIMIT if stored < 0 else stored


def _api_key(row: Sequence[Any]) -> ApiKeyRecord:
    """Builds a key record from a row selected with `_API_KEY_SELECT`."""
    return ApiKeyRecord(
        key_id=row[0],
        user_id=row[1],
        label=row[2],
        create_time=_parse_time(row[3]),
        revoked=bool(row[4]),
        revoke_time=None if row[5] is None else _parse_time(row[5]),
    )


def _conversation(row: Sequence[Any]) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=row[0],
        user_id=row[1],
        title=row[2],
        starred=bool(row[3]),
        create_time=_parse_time(row[4]),
        update_time=_parse_time(row[5]),
        response_count=int(row[6]),
    )


def _response(row: Sequence[Any]) -> ResponseRecord:
    """Builds a record from a row selected with `_R_COLUMNS` (positional, for speed)."""
    sampling = (
        None
        if row[13] is None
        else SamplingRecord(
            temperature=row[13], top_p=row[14], max_tokens=row[15], seed=_decode_seed(row[16])
        )
    )
    return ResponseRecord(
        response_id=row[0],
        conversation_id=row[1],
        seq=row[2],
        message=row[3],
        sender=row[4],
        create_time=_parse_time(row[5]),
        parent_response_id=row[6],
        manual=bool(row[7]),
        partial=bool(row[8]),
        shared=bool(row[9]),
        query=row[10],
        query_type=row[11],
        model_name=row[12],
        sampling=sampling,
        token_count=row[17],
        time_to_first_token_seconds=row[18],
        total_time_seconds=row[19],
        prefix_length=row[20],
    )


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    """Ends the open transaction, if any, whatever happens to the awaiting task.

    The ROLLBACK is queued on the connection by a shielded task, so a second cancellation
    of the caller cannot skip it, and it is queued before the write lock is released, so
    the next writer's BEGIN always comes after it. Errors are swallowed: SQLite may already
    have rolled back (after a failed COMMIT or BEGIN), and the caller re-raises the error
    that caused the rollback anyway.
    """

    async def rollback() -> None:
        with suppress(sqlite3.Error):
            await conn.execute_fetchall("ROLLBACK")

    await asyncio.shield(asyncio.ensure_future(rollback()))


class SqliteStore:
    """Conversation forests in one SQLite file (see the module docstring for the design)."""

    def __init__(self, path: str | Path, *, durability: Durability = "normal") -> None:
        """Configures the store; nothing touches the disk until `open()`.

        `durability="normal"` (synchronous=NORMAL) never corrupts the database but may lose
        the last commits on power loss; `"full"` fsyncs every commit.
        """
        if str(path) in ("", ":memory:"):
            raise ValueError("SqliteStore needs a database file (WAL and two connections)")
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
        self._path = Path(path)
        self._durability: Durability = durability
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._state = _State.NEW
        self._last_time = datetime.min.replace(tzinfo=UTC)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def durability(self) -> Durability:
        """The configured durability ("normal" or "full")."""
        return self._durability

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- lifecycle ---------------------------------------------------------------------

    async def _connect(self, *, read_only: bool) -> aiosqlite.Connection:
        """Opens one connection in autocommit mode (we issue BEGIN ourselves) with PRAGMAs.

        busy_timeout comes first so that switching to WAL waits for other processes rather
        than failing. The reader is made query_only so a bug cannot write around the lock.
        """
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            await conn.execute_fetchall(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
            if str(rows[0][0]).lower() != "wal":
                raise RuntimeError(
                    f"could not put {self._path} in WAL mode (journal_mode={rows[0][0]})"
                )
            await conn.execute_fetchall(f"PRAGMA synchronous = {_SYNCHRONOUS[self._durability]}")
            await conn.execute_fetchall("PRAGMA foreign_keys = ON")
            if read_only:
                await conn.execute_fetchall("PRAGMA query_only = ON")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def open(self) -> None:
        """Opens the database, creating or migrating the schema.

        A closed store may be opened again (a restarted server may reuse its store).
        Raises SchemaVersionError (from server.store.migrations) if the file was written by
        a newer schema; the store then holds no connection.
        """
        if self._state not in (_State.NEW, _State.CLOSED):
            raise StoreClosedError(f"open() called on a store that is {self._state.value}")
        self._state = _State.OPENING
        try:
            await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
            self._writer = await self._connect(read_only=False)
            await migrate(self._writer)
            self._reader = await self._connect(read_only=True)
        except BaseException:
            await self._close_connections()
            self._state = _State.NEW
            raise
        self._state = _State.OPEN

    async def close(self) -> None:
        """Waits for every write already queued, then closes both connections.

        Calls that arrive once closing has begun raise StoreClosedError. Closing twice, or
        closing a store never opened, is harmless.
        """
        if self._state in (_State.NEW, _State.CLOSED):
            self._state = _State.CLOSED
            return
        self._state = _State.CLOSING
        # The lock is FIFO: every write that was waiting for it runs before we get it.
        async with self._write_lock:
            if self._writer is not None:
                try:
                    await self._writer.execute_fetchall("PRAGMA optimize")
                finally:
                    await self._close_connections()
            self._state = _State.CLOSED

    async def _close_connections(self) -> None:
        """Closes whichever connections are open (their worker threads are not daemons)."""
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        try:
            if reader is not None:
                await reader.close()
        finally:
            if writer is not None:
                await writer.close()

    def _require_open(self) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
        if self._state is not _State.OPEN or self._writer is None or self._reader is None:
            state = "not open yet" if self._state is _State.NEW else self._state.value
            raise StoreClosedError(f"the store is {state} ({self._path})")
        return self._writer, self._reader

    async def _read(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Runs one read statement (one snapshot) on the read connection."""
        _, reader = self._require_open()
        return list(await reader.execute_fetchall(sql, parameters))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Holds the write lock around one BEGIN IMMEDIATE ... COMMIT on the write connection.

        The BEGIN is inside the `try`: if the caller is cancelled while it is queued, it
        still runs on the worker thread, so it must be rolled back like any other failure.
        """
        writer, _ = self._require_open()
        async with self._write_lock:
            try:
                await writer.execute_fetchall("BEGIN IMMEDIATE")
                yield writer
                await writer.execute_fetchall("COMMIT")
            except BaseException:
                await _rollback_quietly(writer)
                raise

    def _tick(self) -> datetime:
        """Returns now, strictly after the previous write's time (call under the lock)."""
        now = datetime.now(UTC)
        if now <= self._last_time:
            now = self._last_time + timedelta(microseconds=1)
        self._last_time = now
        return now

    # -- conversations -----------------------------------------------------------------

    async def create_conversation(self, user_id: str, title: str = "") -> ConversationRecord:
        """Creates an empty conversation owned by `user_id`."""
        conversation_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            now = self._tick()
            stamp = _format_time(now)
            await conn.execute_fetchall(
                "INSERT INTO conversations (conversation_id, user_id, title, starred,"
                " create_time, update_time) VALUES (?, ?, ?, 0, ?, ?)",
                (conversation_id, user_id, title, stamp, stamp),
            )
        return ConversationRecord(
            conversation_id=conversation_id,
            user_id=user_id,
            title=title,
            starred=False,
            create_time=_parse_time(stamp),
            update_time=_parse_time(stamp),
            response_count=0,
        )

    async def get_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord | None:
        """Returns the conversation, or None if missing, deleted or another user's."""
        rows = await self._read(
            _CONVERSATION_SELECT + " WHERE c.conversation_id = ? AND c.user_id = ?",
            (conversation_id, user_id),
        )
        return _conversation(rows[0]) if rows else None

    async def list_conversations(self, user_id: str) -> list[ConversationRecord]:
        """Returns the user's conversations, most recently updated first."""
        rows = await self._read(
            _CONVERSATION_SELECT + " WHERE c.user_id = ? ORDER BY c.update_time DESC, c.rowid DESC",
            (user_id,),
        )
        return [_conversation(row) for row in rows]

    async def update_conversation(
        self, user_id: str, conversation_id: str, title: str, starred: bool
    ) -> ConversationRecord | None:
        """Sets title and star and bumps update_time; None if the conversation is not the user's."""
        async with self._transaction() as conn:
            stamp = _format_time(self._tick())
            async with conn.execute(
                "UPDATE conversations SET title = ?, starred = ?, update_time = ?"
                " WHERE conversation_id = ? AND user_id = ?",
                (title, int(bool(starred)), stamp, conversation_id, user_id),
            ) as cursor:
                changed = cursor.rowcount
            if changed == 0:
                return None
            rows = list(
                await conn.execute_fetchall(
                    _CONVERSATION_SELECT + " WHERE c.conversation_id = ?", (conversation_id,)
                )
            )
        return _conversation(rows[0])

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Deletes the conversation and (by cascade) its responses; False if not the user's."""
        async with (
            self._transaction() as conn,
            conn.execute(
                "DELETE FROM conversations WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ) as cursor,
        ):
            return cursor.rowcount > 0

    # -- responses ---------------------------------------------------------------------

    async def list_responses(self, user_id: str, conversation_id: str) -> list[ResponseRecord]:
        """Returns every response of the conversation in creation order.

        Returns [] for a conversation that is missing or another user's, like an empty one;
        callers that must tell them apart ask `get_conversation` first.
        """
        rows = await self._read(
            f"SELECT {_R_COLUMNS} FROM responses AS r"
            " WHERE r.conversation_id = ? AND r.user_id = ? ORDER BY r.seq",
            (conversation_id, user_id),
        )
        return [_response(row) for row in rows]

    async def get_response(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> ResponseRecord | None:
        """Returns one response of the user's conversation, or None."""
        rows = await self._read(
            f"SELECT {_R_COLUMNS} FROM responses AS r"
            " WHERE r.response_id = ? AND r.conversation_id = ? AND r.user_id = ?",
            (response_id, conversation_id, user_id),
        )
        return _response(rows[0]) if rows else None

    async def path_to(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[ResponseRecord]:
        """Returns the responses from the root down to `response_id` (inclusive).

        One recursive query, so the path is one consistent snapshot and depth costs no
        Python recursion. Raises UnknownParentError if the response is not in the user's
        conversation (including when the conversation is missing or another user's).
        """
        rows = await self._read(
            _PATH_TO,
            {"response_id": response_id, "conversation_id": conversation_id, "user_id": user_id},
        )
        if not rows:
            raise UnknownParentError(
                f"response {response_id!r} is not in conversation {conversation_id!r}"
            )
        return [_response(row) for row in rows]

    async def add_response(
        self, user_id: str, new: NewResponse, *, checkpoint_id: str | None = None
    ) -> ResponseRecord:
        """Inserts a response atomically and bumps the conversation's update time.

        Ownership of the conversation and membership of the parent are checked inside the
        write transaction, so a concurrent delete cannot slip between check and insert.
        The stream's checkpoint (if named) is deleted in the same transaction.
        Raises UnknownConversationError or UnknownParentError; nothing is written then.
        Raises ValueError for a seed outside [0, 2**64).
        """
        async with self._transaction() as conn:
            record = await self._insert_response(conn, user_id, new)
            if checkpoint_id is not None:
                await conn.execute_fetchall(
                    "DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
                )
        return record

    async def _insert_response(
        self, conn: aiosqlite.Connection, user_id: str, new: NewResponse
    ) -> ResponseRecord:
        """The insert of `add_response`, inside the caller's write transaction."""
        sampling = new.sampling
        stored_seed = None if sampling is None else _encode_seed(sampling.seed)
        response_id = uuid.uuid4().hex
        stamp = _format_time(self._tick())
        cursor = await conn.execute(
            _INSERT_RESPONSE,
            (
                user_id,
                response_id,
                new.conversation_id,
                new.message,
                new.sender,
                stamp,
                new.parent_response_id,
                int(bool(new.manual)),
                int(bool(new.partial)),
                0,
                new.query,
                new.query_type,
                new.model_name,
                None if sampling is None else sampling.temperature,
                None if sampling is None else sampling.top_p,
                None if sampling is None else sampling.max_tokens,
                stored_seed,
                new.token_count,
                new.time_to_first_token_seconds,
                new.total_time_seconds,
                new.prefix_length,
                new.conversation_id,
                user_id,
                new.parent_response_id,
                new.parent_response_id,
                new.conversation_id,
            ),
        )
        if cursor.rowcount != 1:
            await self._raise_insert_refusal(conn, user_id, new)
        seq = cursor.lastrowid
        if new.tokens:
            await conn.execute_fetchall(
                "INSERT INTO response_tokens (response_id, data) VALUES (?, ?)",
                (response_id, encode_tokens(new.tokens)),
            )
        assert seq is not None
        return ResponseRecord(
            response_id=response_id,
            conversation_id=new.conversation_id,
            seq=int(seq),
            message=new.message,
            sender=new.sender,
            create_time=_parse_time(stamp),
            parent_response_id=new.parent_response_id,
            manual=bool(new.manual),
            partial=bool(new.partial),
            shared=False,
            query=new.query,
            query_type=new.query_type,
            model_name=new.model_name,
            sampling=sampling,
            token_count=new.token_count,
            time_to_first_token_seconds=new.time_to_first_token_seconds,
            total_time_seconds=new.total_time_seconds,
            prefix_length=new.prefix_length,
        )

    async def _raise_insert_refusal(
        self, conn: aiosqlite.Connection, user_id: str, new: NewResponse
    ) -> NoReturn:
        """Says why the checked insert stored nothing: no such conversation, or parent."""
        checks = list(
            await conn.execute_fetchall(
                "SELECT EXISTS (SELECT 1 FROM conversations"
                "               WHERE conversation_id = :cid AND user_id = :uid)",
                {"cid": new.conversation_id, "uid": user_id},
            )
        )
        if not checks[0][0]:
            raise UnknownConversationError(f"conversation {new.conversation_id!r} does not exist")
        raise UnknownParentError(
            f"response {new.parent_response_id!r} is not in conversation {new.conversation_id!r}"
        )

    # -- annotations, tokens, search, import ----------------------------------------------

    async def annotate(
        self, user_id: str, conversation_id: str, response_id: str, annotation: AnnotationRecord
    ) -> bool:
        """Sets (or, when empty, removes) the annotation; False if not the user's response."""
        async with self._transaction() as conn:
            owned = list(
                await conn.execute_fetchall(
                    "SELECT 1 FROM responses"
                    " WHERE response_id = ? AND conversation_id = ? AND user_id = ?",
                    (response_id, conversation_id, user_id),
                )
            )
            if not owned:
                return False
            if annotation.empty:
                await conn.execute_fetchall(
                    "DELETE FROM annotations WHERE response_id = ?", (response_id,)
                )
                return True
            await conn.execute_fetchall(
                "INSERT INTO annotations"
                " (response_id, user_id, bookmarked, tags, rating, note, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (response_id) DO UPDATE SET bookmarked = excluded.bookmarked,"
                " tags = excluded.tags, rating = excluded.rating, note = excluded.note,"
                " update_time = excluded.update_time",
                (
                    response_id,
                    user_id,
                    int(annotation.bookmarked),
                    json.dumps(list(annotation.tags)),
                    annotation.rating,
                    annotation.note,
                    _format_time(self._tick()),
                ),
            )
        return True

    async def annotations(self, user_id: str, conversation_id: str) -> dict[str, AnnotationRecord]:
        """The annotations of a conversation's responses, by response id."""
        rows = await self._read(
            "SELECT a.response_id, a.bookmarked, a.tags, a.rating, a.note"
            " FROM annotations AS a JOIN responses AS r ON r.response_id = a.response_id"
            " WHERE r.conversation_id = ? AND r.user_id = ?",
            (conversation_id, user_id),
        )
        return {row[0]: _annotation(row[1:]) for row in rows}

    async def response_tokens(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[TokenRow] | None:
        """The stored tokens of a response ([] if none); None if not the user's response."""
        rows = await self._read(
            "SELECT t.data FROM responses AS r"
            " LEFT JOIN response_tokens AS t ON t.response_id = r.response_id"
            " WHERE r.response_id = ? AND r.conversation_id = ? AND r.user_id = ?",
            (response_id, conversation_id, user_id),
        )
        if not rows:
            return None
        data = rows[0][0]
        return decode_tokens(data) if data is not None else []

    async def search(
        self, user_id: str, match: str | None, filters: SearchFilters, limit: int
    ) -> list[SearchHitRecord]:
        """Best matches first of an FTS5 expression (None: filters alone, newest first).

        Raises ValueError with SQLite's words when the expression is not valid FTS5.
        """
        conditions, parameters = _filter_sql(filters)
        parameters.update({"uid": user_id, "limit": limit})
        if match is None:
            sql = (
                f"SELECT 'message', c.title, substr(r.message, 1, 200), {_R_COLUMNS},"
                " c.conversation_id"
                " FROM responses AS r"
                " JOIN conversations AS c ON c.conversation_id = r.conversation_id"
                " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
                f" WHERE r.user_id = :uid {conditions}"
                " ORDER BY r.seq DESC LIMIT :limit"
            )
        else:
            parameters["match"] = match
            only_responses = " AND r.response_id IS NOT NULL" if filters.on_responses else ""
            sql = (
                "SELECT s.kind, c.title,"
                f" snippet(search_text, 0, '{_MARK_OPEN}', '{_MARK_CLOSE}', '…', 16),"
                f" {_R_COLUMNS}, c.conversation_id"
                " FROM search_text JOIN search_rows AS s ON s.id = search_text.rowid"
                " JOIN conversations AS c ON c.conversation_id = s.conversation_id"
                " LEFT JOIN responses AS r"
                "     ON s.kind != 'title' AND r.response_id = s.ref_id"
                " LEFT JOIN annotations AS a ON a.response_id = r.response_id"
                " WHERE search_text MATCH :match AND s.user_id = :uid"
                f" {only_responses} {conditions}"
                " ORDER BY bm25(search_text) LIMIT :limit"
            )
        try:
            rows = await self._read(sql, parameters)
        except sqlite3.OperationalError as error:
            raise ValueError(str(error)) from None
        hits = []
        for row in rows:
            response = _response(row[3:]) if row[3] is not None else None
            snippet, spans = _highlights(row[2] or "")
            hits.append(SearchHitRecord(row[-1], row[1], row[0], response, snippet, spans))
        return hits

    async def import_conversation(
        self, user_id: str, title: str, starred: bool, items: Sequence[ImportItem]
    ) -> ConversationRecord:
        """Creates a conversation holding `items` (parents first) in one transaction.

        Raises UnknownParentError when an item names a parent not imported before it;
        nothing is stored then.
        """
        conversation_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            stamp = _format_time(self._tick())
            await conn.execute_fetchall(
                "INSERT INTO conversations"
                " (conversation_id, user_id, title, starred, create_time, update_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, user_id, title, int(starred), stamp, stamp),
            )
            ids: dict[str, str] = {}
            for item in items:
                parent = None
                if item.parent_local_id is not None:
                    parent = ids.get(item.parent_local_id)
                    if parent is None:
                        raise UnknownParentError(
                            f"response {item.local_id!r} names parent "
                            f"{item.parent_local_id!r}, which does not come before it"
                        )
                new = dataclasses.replace(
                    item.response, conversation_id=conversation_id, parent_response_id=parent
                )
                record = await self._insert_response(conn, user_id, new)
                ids[item.local_id] = record.response_id
                if item.shared:
                    await conn.execute_fetchall(
                        "UPDATE responses SET shared = 1 WHERE response_id = ?",
                        (record.response_id,),
                    )
                annotation = item.annotation
                if annotation is not None and not annotation.empty:
                    await conn.execute_fetchall(
                        "INSERT INTO annotations (response_id, user_id, bookmarked, tags,"
                        " rating, note, update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            record.response_id,
                            user_id,
                            int(annotation.bookmarked),
                            json.dumps(list(annotation.tags)),
                            annotation.rating,
                            annotation.note,
                            stamp,
                        ),
                    )
        record = await self.get_conversation(user_id, conversation_id)
        assert record is not None
        return record

    # -- checkpoints of running streams -------------------------------------------------

    async def save_checkpoints(self, checkpoints: Sequence[Checkpoint], owner: str = "") -> None:
        """Upserts the current text of running streams, all in one transaction.

        One transaction for every stream keeps the cost of checkpointing flat however many
        streams run. Checkpoints of conversations deleted meanwhile are skipped. `owner`
        names the server process writing them, so another process sharing the database
        never takes a live server's checkpoints for a crash's.
        """
        if not checkpoints:
            return
        async with self._transaction() as conn:
            stamp = _format_time(self._tick())
            await conn.executemany(
                "INSERT INTO checkpoints (checkpoint_id, user_id, conversation_id, response,"
                "                         create_time, update_time, owner)"
                " SELECT :id, :uid, :cid, :response, :now, :now, :owner"
                " WHERE EXISTS (SELECT 1 FROM conversations"
                "               WHERE conversation_id = :cid AND user_id = :uid)"
                " ON CONFLICT (checkpoint_id) DO UPDATE"
                " SET response = excluded.response, update_time = excluded.update_time",
                [
                    {
                        "id": c.checkpoint_id,
                        "uid": c.user_id,
                        "cid": c.response.conversation_id,
                        "response": _encode_new_response(c.response),
                        "now": stamp,
                        "owner": owner,
                    }
                    for c in checkpoints
                ],
            )

    async def discard_checkpoint(self, checkpoint_id: str) -> None:
        """Deletes a checkpoint whose stream ended without storing a reply."""
        async with self._transaction() as conn:
            await conn.execute_fetchall(
                "DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
            )

    async def recover_checkpoints(
        self, is_orphan: Callable[[str, datetime], bool] = lambda owner, updated: True
    ) -> list[ResponseRecord]:
        """Turns checkpoints left by a crashed server into partial replies; returns them.

        `is_orphan(owner, update_time)` says whether a checkpoint's writer is gone; those of
        live servers (another process on the same database) are left alone. A checkpoint
        whose parent vanished (its conversation was deleted) is dropped.
        """
        recovered: list[ResponseRecord] = []
        async with self._transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT checkpoint_id, user_id, response, owner, update_time"
                    " FROM checkpoints ORDER BY create_time"
                )
            )
            for checkpoint_id, user_id, data, owner, updated in rows:
                if not is_orphan(owner, _parse_time(updated)):
                    continue
                new = _decode_new_response(data)
                with suppress(UnknownConversationError, UnknownParentError):
                    recovered.append(await self._insert_response(conn, user_id, new))
                await conn.execute_fetchall(
                    "DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
                )
        return recovered

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
        async with (
            self._transaction() as conn,
            conn.executemany(
                "UPDATE responses SET shared = 1 WHERE response_id = ? AND conversation_id = ?"
                " AND user_id = ? AND shared = 0",
                [(response_id, conversation_id, user_id) for response_id in response_ids],
            ) as cursor,
        ):
            return cursor.rowcount

    # -- API keys (the KeyStore protocol) ----------------------------------------------

    async def create_api_key(
        self, user_id: str, key_hash: str, key_id: str, label: str = ""
    ) -> ApiKeyRecord:
        """Stores a new active key of `user_id`, creating the user row if needed.

        Both rows go in one transaction, so a user never exists half-made. Raises
        DuplicateApiKeyError if the hash or the key id is taken.
        """
        try:
            async with self._transaction() as conn:
                stamp = _format_time(self._tick())
                await conn.execute_fetchall(
                    "INSERT OR IGNORE INTO users (user_id, create_time) VALUES (?, ?)",
                    (user_id, stamp),
                )
                await conn.execute_fetchall(
                    "INSERT INTO api_keys (key_hash, key_id, user_id, label, create_time,"
                    " revoked) VALUES (?, ?, ?, ?, ?, 0)",
                    (key_hash, key_id, user_id, label, stamp),
                )
        except sqlite3.IntegrityError as error:
            raise DuplicateApiKeyError(f"an API key with id {key_id!r} exists already") from error
        return ApiKeyRecord(
            key_id=key_id,
            user_id=user_id,
            label=label,
            create_time=_parse_time(stamp),
            revoked=False,
            revoke_time=None,
        )

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Returns every key, revoked ones included, oldest first."""
        rows = await self._read(f"{_API_KEY_SELECT} ORDER BY create_time, rowid")
        return [_api_key(row) for row in rows]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Returns the key with that id, or None."""
        rows = await self._read(f"{_API_KEY_SELECT} WHERE key_id = ?", (key_id,))
        return _api_key(rows[0]) if rows else None

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Marks the key revoked, keeping its first revoke time; None if no key has that id.

        The row stays (revoked, not deleted) so that `list` shows the history and a
        revoked key is answered "revoked" rather than "not valid".
        """
        async with self._transaction() as conn:
            stamp = _format_time(self._tick())
            await conn.execute_fetchall(
                "UPDATE api_keys SET revoked = 1, revoke_time = ? WHERE key_id = ? AND revoked = 0",
                (stamp, key_id),
            )
            rows = list(
                await conn.execute_fetchall(f"{_API_KEY_SELECT} WHERE key_id = ?", (key_id,))
            )
        return _api_key(rows[0]) if rows else None

    async def check_api_key(self, key_hash: str | None) -> ApiKeyCheck:
        """Looks up one key by hash and whether any key is active, in one read.

        Called on every RPC, so it is two index probes (the primary key and the partial
        index of active keys) in a single statement: one snapshot, one worker-thread hop.
        A revocation committed by another process is seen by the next call.
        """
        rows = await self._read(_CHECK_API_KEY, (key_hash,))
        user_id, revoked, any_active = rows[0]
        return ApiKeyCheck(user_id=user_id, revoked=bool(revoked), any_active=bool(any_active))

    async def has_active_api_keys(self) -> bool:
        """True when at least one non-revoked key exists."""
        return (await self.check_api_key(None)).any_active

    # -- maintenance helpers (not part of the Store protocol) ---------------------------

    async def pragmas(self) -> dict[str, int | str]:
        """Returns the PRAGMAs in force on the write connection, to verify durability."""
        writer, _ = self._require_open()
        result: dict[str, int | str] = {}
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
            rows = list(await writer.execute_fetchall(f"PRAGMA {name}"))
            result[name] = rows[0][0]
        return result

    async def check_integrity(self) -> list[str]:
        """Returns the problems found by integrity_check and foreign_key_check; [] if none."""
        rows = await self._read("PRAGMA integrity_check")
        problems = [str(row[0]) for row in rows if row[0] != "ok"]
        rows = await self._read("PRAGMA foreign_key_check")
        problems += [f"foreign key violation: {tuple(row)}" for row in rows]
        return problems


def _encode_new_response(new: NewResponse) -> str:
    """A NewResponse as JSON (a checkpoint's payload), always marked partial.

    Tokens are left out: a checkpoint keeps the text; logprobs of an interrupted reply
    are not worth rewriting the whole list twice a second.
    """
    data = dataclasses.asdict(new)
    data["partial"] = True
    data["tokens"] = None
    return json.dumps(data)


def encode_tokens(tokens: Sequence[TokenRow]) -> bytes:
    """Tokens as compressed JSON: [[text, logprob|null, [[alt, logprob], ...]], ...]."""
    return zlib.compress(
        json.dumps([[t, lp, [list(a) for a in top]] for t, lp, top in tokens]).encode(), 6
    )


def decode_tokens(data: bytes) -> list[TokenRow]:
    """The tokens `encode_tokens` stored."""
    return [
        (text, logprob, tuple((alt, alt_lp) for alt, alt_lp in top))
        for text, logprob, top in json.loads(zlib.decompress(data))
    ]


_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"


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


def _annotation(row: Sequence[Any]) -> AnnotationRecord:
    """An annotation from (bookmarked, tags JSON, rating, note)."""
    return AnnotationRecord(
        bookmarked=bool(row[0]), tags=tuple(json.loads(row[1])), rating=row[2], note=row[3]
    )


def _decode_new_response(text: str) -> NewResponse:
    """The NewResponse a checkpoint holds."""
    data = json.loads(text)
    sampling = data.pop("sampling")
    return NewResponse(**data, sampling=None if sampling is None else SamplingRecord(**sampling))


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
