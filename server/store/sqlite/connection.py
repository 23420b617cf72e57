"""The SQLite store's connections: lifecycle, the write transaction, reads, the clock.

Design, and why:

* Every sqlite call runs on an aiosqlite worker thread, so the event loop never blocks on
  disk I/O.
* One write connection carries every write. Its transactions are serialised by an
  `asyncio.Lock` (FIFO, so writes are applied in arrival order), because statements of two
  coroutines must not interleave inside one transaction on a shared connection. A single
  writer also means `BEGIN IMMEDIATE` never waits on ourselves; it only waits (busy_timeout)
  on another process.
* Group commit (`_write`): the hot writes (a response stored at the start and the end of
  every AddResponse stream, a select_reply's place, checkpoint batches) are plain functions
  run on the writer's thread. Whatever arrived while the previous transaction ran is
  written by one task in ONE transaction and one trip to that thread, in arrival order;
  each caller awaits its own result. A write that fails fails only its own caller (the
  group is redone without it when it had written part of itself). Under load this
  replaces hundreds of BEGIN/COMMIT round trips, each waiting behind the previous writer
  on a busy event loop (200 simultaneous starts took 0.35-2 s to acknowledge their human
  message), by a handful of commits.
  Durability is unchanged: a caller is answered only after the COMMIT that holds its
  write returned. Group-committed writes keep their arrival order among themselves; a
  group takes the write lock like any transaction, so against a `_transaction` started
  meanwhile by another coroutine the order is that of the lock (as between any two
  concurrent callers), while one coroutine's awaited writes always apply in its order.
* Reads use a second connection. In WAL mode readers never block the writer nor wait for
  it, and each read is one statement, hence one consistent snapshot, without any lock.
  Reads that arrive together go to the reader's thread in one trip (each still its own
  statement): under load every trip is a thread hand-off through the GIL and a wake-up of
  the event loop, and two reads per AddResponse start cost 100-150 ms over 200
  simultaneous starts when each took its own trip. A trip is handed to the thread
  directly, not through a task, and its answer settles the callers as it arrives: a read
  or a group commit takes two loop turns instead of four, and under load (hundreds of
  streams' callbacks per turn) every turn is long.
* Every multi-statement write is one explicit `BEGIN IMMEDIATE ... COMMIT` transaction and
  is rolled back on any error, including cancellation of the caller, so nothing is stored
  half-way and the connection is never left inside a transaction.
* Before anything is opened, `failures.preflight` refuses a file that is not SQLite, that
  `PRAGMA quick_check` finds damaged, or that cannot be written, without writing a byte;
  `read_only` opens the file with `mode=ro` instead. SQLite errors about the file (full,
  read-only, corrupt, I/O) leave `_read` and `_transaction` as `StorageFailure`s.
* Every query is scoped by user_id: another user's conversation is indistinguishable from
  a missing one.

Times are timezone-aware UTC datetimes, stored as ISO-8601 text with microseconds (exact
round trip, sorts as text). The store's clock is strictly increasing across its writes, so
update order and creation order never tie, even where the system clock is coarse or steps
back a little.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import aiosqlite

from grove_explorer.server.store.clock import StoreClock
from grove_explorer.server.store.migrations import (
    MIGRATIONS,
    SchemaVersionError,
    current_version,
    migrate,
)
from grove_explorer.server.store.protocol import StorageFailure, UnknownConversationError
from grove_explorer.server.store.sqlite.binding import bind_plainly
from grove_explorer.server.store.sqlite.failures import preflight, read_only_uri, storage_failure
from grove_explorer.server.store.sqlite.grouping import (
    Job,
    Outcome,
    PendingRead,
    PendingWrite,
    T,
    WriteJob,
    fail_waiting,
    run_group,
    run_reads,
    settle,
)

bind_plainly()  # NULLs and BLOBs bound without failed adaptation (see binding.py)

Durability = Literal["normal", "full"]

_SYNCHRONOUS: dict[str, str] = {"normal": "NORMAL", "full": "FULL"}
_BUSY_TIMEOUT_MS = 5000


class StoreClosedError(RuntimeError):
    """The store is not open: `open()` was not awaited yet, or `close()` was called."""


class _State(enum.Enum):
    NEW = "new"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


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


def _accepts_work(conn: aiosqlite.Connection) -> bool:
    """True while `conn`'s thread takes work (as aiosqlite's own `_execute` checks)."""
    return bool(conn._running and conn._connection is not None)


class SqliteDatabase:
    """The two connections, the write lock and the clock that every table group uses."""

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "normal",
        read_only: bool = False,
        allow_damaged: bool = False,
    ) -> None:
        """Configures the store; nothing touches the disk until `open()`.

        `durability="normal"` (synchronous=NORMAL) never corrupts the database but may lose
        the last commits on power loss; `"full"` fsyncs every commit. `read_only` opens the
        file for reading only (every write then fails as a read-only StorageFailure);
        `allow_damaged` skips the refusal of a file `PRAGMA quick_check` finds damaged and
        implies `read_only`, so a damaged file is never written to.
        """
        if str(path) in ("", ":memory:"):
            raise ValueError("SqliteStore needs a database file (WAL and two connections)")
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
        self._path = Path(path)
        self._durability: Durability = durability
        self._allow_damaged = allow_damaged
        self._read_only = read_only or allow_damaged
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Group commit: writes waiting for the next transaction, and the task writing them.
        self._pending: list[PendingWrite] = []
        self._committer: asyncio.Task[None] | None = None
        # Reads waiting for the next trip to the reader's thread, and the trip under way
        # (a future done when it is back), if any.
        self._reads: list[PendingRead] = []
        self._read_trip: asyncio.Future[None] | None = None
        self._state = _State.NEW
        self._clock = StoreClock()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def read_only(self) -> bool:
        """True when the file is opened for reading only (nothing can be saved)."""
        return self._read_only

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
        if self._read_only:
            return await self._connect_read_only()
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

    async def _connect_read_only(self) -> aiosqlite.Connection:
        """Opens the file with `mode=ro`: SQLite itself refuses every write.

        A WAL database in a folder that cannot be written has no -shm file to share; it is
        then read as it is on disk (`immutable=1`), without what its -wal file holds.
        """
        conn = await aiosqlite.connect(read_only_uri(self._path), uri=True, isolation_level=None)
        try:
            await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")
        except sqlite3.OperationalError:
            await conn.close()
            conn = await aiosqlite.connect(
                read_only_uri(self._path, immutable=True), uri=True, isolation_level=None
            )
        except sqlite3.DatabaseError:
            if not self._allow_damaged:
                await conn.close()
                raise
        try:
            await conn.execute_fetchall(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            await conn.execute_fetchall("PRAGMA query_only = ON")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _check_version_read_only(self) -> None:
        """A read-only store cannot migrate: its schema must already be this code's."""
        assert self._writer is not None
        try:
            version = await current_version(self._writer)
        except sqlite3.DatabaseError:
            if self._allow_damaged:
                return  # damaged tables are reported when they are read
            raise
        if version > len(MIGRATIONS):
            raise SchemaVersionError(
                f"database schema version {version} is newer than this code's "
                f"{len(MIGRATIONS)}; upgrade Grove or use another database file"
            )
        if version < len(MIGRATIONS):
            raise StorageFailure(
                "read_only",
                f"The database {self._path} was written by an older Grove and must be "
                "upgraded, which a read-only start cannot do. Open it once without "
                "--read-only (on a copy, if it is damaged).",
            )

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
            await asyncio.to_thread(
                preflight,
                self._path,
                read_only=self._read_only,
                allow_damaged=self._allow_damaged,
            )
            if not self._read_only:
                await asyncio.to_thread(self._path.parent.mkdir, parents=True, exist_ok=True)
            self._writer = await self._connect(read_only=False)
            if self._read_only:
                await self._check_version_read_only()
            else:
                await migrate(self._writer)
            self._reader = await self._connect(read_only=True)
        except sqlite3.Error as error:
            await self._close_connections()
            self._state = _State.NEW
            raise self._failure(error) from error
        except OSError as error:
            await self._close_connections()
            self._state = _State.NEW
            raise StorageFailure(
                "io", f"Cannot open the database {self._path}: {error.strerror or error}."
            ) from error
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
        # Group-committed writes already accepted are written first.
        while self._committer is not None:
            await asyncio.wait([self._committer])  # its callers get its errors, not close()
        while self._read_trip is not None:
            await asyncio.wait([self._read_trip])
        # The lock is FIFO: every write that was waiting for it runs before we get it.
        async with self._write_lock:
            if self._writer is not None:
                try:
                    if not self._read_only:
                        with suppress(sqlite3.Error):  # a full disk must not stop closing
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
        """Runs one read statement (one snapshot) on the read connection.

        Reads that arrive while a trip to the reader's thread is under way go together in
        the next trip (see the module's docstring).
        """
        self._require_open()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._reads.append(PendingRead(sql, parameters, future))
        if self._read_trip is None:
            self._send_reads()
        try:
            return await future
        except sqlite3.Error as error:
            raise self._failure(error) from error

    def _send_reads(self) -> None:
        """Sends the waiting reads to the reader's thread in one trip (none under way).

        No task and no awaiting in between: the reads leave in the loop turn they arrive
        in, and the thread's answer settles their callers in the turn it comes back in
        (`_reads_back`), which sends whatever arrived meanwhile. Under load every loop
        turn is long (hundreds of streams' callbacks), and a trip run by a task took four
        of them per read (the task's start, aiosqlite's future, the task's resumption,
        the caller's): an AddResponse start reads twice before it can store anything.
        """
        group = [r for r in self._reads if not r.future.done()]
        self._reads = []
        if not group:
            return
        reader = self._reader
        if reader is None or not _accepts_work(reader):
            closed = StoreClosedError(f"the store is closed ({self._path})")
            fail_waiting([r.future for r in group], closed, StoreClosedError)
            return
        loop = asyncio.get_running_loop()
        trip: asyncio.Future[None] = loop.create_future()
        self._read_trip = trip
        conn = reader._conn
        statements = [(r.sql, r.parameters) for r in group]

        def on_thread() -> None:
            try:
                outcomes: list[Outcome] | BaseException = run_reads(conn, statements)
            except BaseException as error:  # run_reads keeps each statement's own error
                outcomes = error
            loop.call_soon_threadsafe(self._reads_back, trip, group, outcomes)

        # aiosqlite's own queue to its thread, without its future: the answer comes back
        # through `_reads_back` directly.
        reader._tx.put_nowait((None, on_thread))

    def _reads_back(
        self,
        trip: asyncio.Future[None],
        group: list[PendingRead],
        outcomes: list[Outcome] | BaseException,
    ) -> None:
        """A read trip is back (on the loop): settles its callers, sends the next one."""
        self._read_trip = None
        trip.set_result(None)
        if isinstance(outcomes, BaseException):
            fail_waiting([r.future for r in group], outcomes, StoreClosedError)
        else:
            settle([r.future for r in group], outcomes)
        if self._reads:
            self._send_reads()

    def _failure(self, error: sqlite3.Error) -> BaseException:
        """The StorageFailure `error` stands for, else `error` itself (our SQL's error)."""
        failure = storage_failure(error, self._path, read_only=self._read_only)
        return error if failure is None else failure

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
            except sqlite3.Error as error:
                await _rollback_quietly(writer)
                failure = self._failure(error)
                if failure is error:
                    raise
                raise failure from error
            except BaseException:
                await _rollback_quietly(writer)
                raise

    async def _write(self, job: WriteJob[T]) -> T:
        """Runs `job` in the next group commit (see the module's docstring); its result.

        `job(conn, now)` runs on the writer's thread inside an open transaction, so it must
        only run statements on `conn` (sqlite3, not aiosqlite) and build its result: it
        cannot await. It may run more than once (after another write in its group broke the
        transaction), so it must not change anything outside the database. Its exception is
        raised here, an SQLite error about the file as a StorageFailure. A caller cancelled
        before its write runs writes nothing; once it has run, the write is kept (as a
        COMMIT that was under way when an old-style transaction's caller was cancelled).
        """
        self._require_open()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(PendingWrite(job, future))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending(), name="grove-group-commit")
        return await future

    async def _commit_pending(self) -> None:
        """Writes every pending write, one transaction per round, until none is left."""
        group: list[PendingWrite] = []
        try:
            while self._pending:
                async with self._write_lock:
                    # Taken under the lock, so the group holds whatever arrived meanwhile.
                    group = [p for p in self._pending if not p.future.done()]
                    self._pending = []
                    if not group:
                        continue
                    writer = self._writer
                    if writer is None:
                        raise StoreClosedError(f"the store is closed ({self._path})")
                    jobs = [(p.job, self._tick(), p.future.cancelled) for p in group]
                    await self._commit_group(writer, jobs, [p.future for p in group])
                group = []
        except BaseException as error:
            # Not expected (the loop is being torn down).
            fail_waiting([p.future for p in (*group, *self._pending)], error, StoreClosedError)
            self._pending = []
            raise
        finally:
            self._committer = None

    def _commit_group(
        self,
        writer: aiosqlite.Connection,
        jobs: list[Job],
        futures: list[asyncio.Future[Any]],
    ) -> asyncio.Future[None]:
        """Runs `jobs` in one transaction on the writer's thread; done once they are settled.

        The callers are settled in the loop turn the thread's answer arrives in, not a turn
        later when the committer would resume (as through aiosqlite's own future): under
        load every turn is long, and each start waits for its human message's commit.
        """
        if not _accepts_work(writer):
            raise StoreClosedError(f"the store is closed ({self._path})")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        conn = writer._conn

        def on_thread() -> None:
            try:
                outcomes: list[Outcome] | BaseException = run_group(conn, jobs)
            except BaseException as error:
                outcomes = error
            loop.call_soon_threadsafe(back, outcomes)

        def back(outcomes: list[Outcome] | BaseException) -> None:
            if isinstance(outcomes, BaseException):
                if not done.done():
                    done.set_exception(outcomes)
                return
            settle(futures, outcomes, self._write_error)
            if not done.done():
                done.set_result(None)

        writer._tx.put_nowait((None, on_thread))
        return done

    def _write_error(self, error: BaseException) -> BaseException:
        """A job's exception as its caller sees it: SQLite's file errors as StorageFailure."""
        if not isinstance(error, sqlite3.Error):
            return error
        failure = self._failure(error)
        if failure is not error:
            failure.__cause__ = error
        return failure

    def _tick(self) -> datetime:
        """Returns now, strictly after the previous write's time (call under the lock)."""
        return self._clock.tick()

    def _ticks(self, count: int) -> datetime:
        """The first of `count` times of the store's clock, one microsecond apart."""
        return self._clock.ticks(count)

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


async def require_owned(conn: aiosqlite.Connection, user_id: str, conversation_id: str) -> None:
    """Inside a write transaction: UnknownConversationError unless the conversation is theirs.

    What a write about a conversation's responses checks first (judgements, votes).
    """
    owned = await conn.execute_fetchall(
        "SELECT 1 FROM conversations WHERE conversation_id = ? AND user_id = ?",
        (conversation_id, user_id),
    )
    if not list(owned):
        raise UnknownConversationError(conversation_id)
