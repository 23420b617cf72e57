"""The PostgreSQL store's connections: a pool, transactions, reads, the clock, failures.

Design, and why:

* A `psycopg_pool.AsyncConnectionPool` of autocommit connections. PostgreSQL runs
  transactions of many clients at once, so unlike the SQLite store there is no write lock
  and no group commit here: every write is one `BEGIN ... COMMIT` on a pooled connection,
  and several replicas (`grove serve` processes) write to the same database together.
* Reads are one statement each on a pooled connection (autocommit: one snapshot per
  statement, as in the SQLite store).
* Writes that must see a consistent conversation (a reply's parent, an import) run in
  `_transaction()` and lock what they depend on with `SELECT ... FOR UPDATE` / `FOR SHARE`
  in their own query module; the database, not a process lock, keeps replicas apart.
* Schema migrations (schema.py) run at `open()` under a transaction-level advisory lock,
  so replicas starting together migrate once and the others wait and find it done.
* Connection problems (server down, refused, lost mid-call, pool exhausted) leave the
  store as `StorageFailure("io", …)` naming the database without its password: the
  servicer answers UNAVAILABLE, a status clients may retry on another replica.

* Presence: a replica announces its owner id (server/owners.py) by holding one extra
  connection whose application_name is a digest of it (`presence_name`) for as long as its
  store is open. PostgreSQL drops the connection when the process dies (even `kill -9`:
  the kernel closes the socket), so `pg_stat_activity` tells any replica, on any host,
  which writers live — no heartbeat clock to tune or to skew.

Times are `timestamptz` (microseconds, as the SQLite store's text): the record mapping
(`server/store/rows.py`) takes either. `_tick()` is strictly increasing within a process,
so one replica's creation and update orders never tie; orders across replicas use each
table's `seq` identity column, which the database hands out.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from grove_explorer.server.store.clock import StoreClock
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.protocol import StorageFailure, UnknownConversationError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

DEFAULT_POOL_SIZE = 10
"""Connections per replica at most: enough for the concurrent writes of hundreds of
streams (each holds a connection only for one statement or transaction)."""

CONNECT_TIMEOUT_SECONDS = 10.0
"""How long `open()` and a call wait for a connection before saying the database is gone."""


PRESENCE_PREFIX = "grove-"


def presence_name(owner: str) -> str:
    """The application_name of `owner`'s presence connection (fits NAMEDATALEN's 63)."""
    return PRESENCE_PREFIX + hashlib.sha256(owner.encode()).hexdigest()[:32]


class StoreClosedError(RuntimeError):
    """The store is not open: `open()` was not awaited yet, or `close()` was called."""


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def missing_driver_message() -> str:
    """What to do when psycopg is not installed (it is an optional dependency)."""
    return (
        "The PostgreSQL store needs psycopg 3: pip install 'grove-explorer[postgres]' "
        "(or pip install 'psycopg[binary,pool]')."
    )


class PostgresDatabase:
    """The pool, the clock and the failure mapping every PostgreSQL table group uses."""

    def __init__(self, url: PostgresUrl | str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        """Configures the store; nothing connects until `open()`."""
        self._url = url if isinstance(url, PostgresUrl) else PostgresUrl(url)
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self._presence: psycopg.AsyncConnection[Any] | None = None
        self._state = _State.NEW
        self._clock = StoreClock()

    @property
    def url(self) -> PostgresUrl:
        """The database (its `str()` hides the password)."""
        return self._url

    @property
    def read_only(self) -> bool:
        """Always False: read-only opening is a SQLite file option."""
        return False

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

    async def open(self) -> None:
        """Connects the pool and brings the schema up to date (schema.py).

        Raises StorageFailure("io") when the database cannot be reached, SchemaVersionError
        when it was written by a newer Grove. A closed store may be opened again.
        """
        if self._state is _State.OPEN:
            raise StoreClosedError("open() called on a store that is open")
        try:
            import psycopg
            from psycopg_pool import AsyncConnectionPool
        except ImportError as error:  # pragma: no cover - the test extra installs it
            raise StorageFailure("io", missing_driver_message()) from error
        from grove_explorer.server.store.postgres.schema import migrate

        pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            self._url.url,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            kwargs={"autocommit": True},
            name="grove",
        )
        with self._storage_failures():
            try:
                # One direct connection first: an unreachable or misnamed database fails at
                # once with libpq's reason, where the pool would retry until its timeout.
                async with await psycopg.AsyncConnection.connect(
                    self._url.url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
                ) as first:
                    await migrate(first)
                await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            except BaseException:
                await pool.close()
                raise
        self._pool = pool
        self._state = _State.OPEN

    async def close(self) -> None:
        """Waits for the calls holding connections, then closes the pool. Idempotent."""
        pool, self._pool = self._pool, None
        presence, self._presence = self._presence, None
        self._state = _State.CLOSED
        if presence is not None:
            await presence.close()
        if pool is not None:
            await pool.close()

    # -- presence (which replicas live) ------------------------------------------------

    async def announce_owner(self, owner: str) -> None:
        """Holds a connection named after `owner` while the store is open (see module)."""
        import psycopg

        self._require_open()
        if self._presence is not None:
            await self._presence.close()
        with self._storage_failures():
            self._presence = await psycopg.AsyncConnection.connect(
                self._url.url,
                autocommit=True,
                application_name=presence_name(owner),
                connect_timeout=int(CONNECT_TIMEOUT_SECONDS),
            )

    async def _present_owners(self) -> frozenset[str]:
        """The presence names of every replica connected to this database now."""
        rows = await self._read(
            "SELECT DISTINCT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE %s",
            (PRESENCE_PREFIX + "%",),
        )
        return frozenset(row[0] for row in rows)

    @staticmethod
    def _with_presence(
        is_orphan: Callable[[str, datetime], bool], present: frozenset[str]
    ) -> Callable[[str, datetime], bool]:
        """`is_orphan`, and also gone: a writer on another host without its presence.

        On this host the OS answers exactly (server/owners.py). Elsewhere, without the
        presence connection, owners.py could only wait for a checkpoint to go stale.
        """
        from grove_explorer.server.owners import is_remote

        def orphan(owner: str, updated: datetime) -> bool:
            if is_orphan(owner, updated):
                return True
            return is_remote(owner) and presence_name(owner) not in present

        return orphan

    def _require_open(self) -> AsyncConnectionPool:
        if self._state is not _State.OPEN or self._pool is None:
            state = "not open yet" if self._state is _State.NEW else self._state.value
            raise StoreClosedError(f"the store is {state} ({self._url})")
        return self._pool

    # -- reads and writes --------------------------------------------------------------

    async def _read(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Runs one read statement (one snapshot) on a pooled connection; its rows."""
        pool = self._require_open()
        with self._storage_failures():
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, parameters)
                return await cursor.fetchall()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection for one write statement (atomic by itself).

        For a write that is one statement (one_statement.py): no BEGIN and COMMIT round
        trips around it. Failures map as `_transaction`'s do.
        """
        pool = self._require_open()
        with self._storage_failures():
            async with pool.connection() as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One `BEGIN ... COMMIT` on a pooled connection; rolled back on any error.

        Cancellation of the caller rolls back too (psycopg's transaction block does), so
        nothing is stored half-way and the connection goes back to the pool clean.
        """
        pool = self._require_open()
        with self._storage_failures():
            async with pool.connection() as conn, conn.transaction():
                yield conn

    @contextmanager
    def _storage_failures(self) -> Iterator[None]:
        """Raises an error about the database (down, full, read-only…) as StorageFailure.

        Our own SQL's errors go on as they are.
        """
        try:
            yield
        except Exception as error:
            failure = self._failure(error)
            if failure is error:
                raise
            raise failure from error

    def _failure(self, error: BaseException) -> BaseException:
        """The StorageFailure `error` stands for, else `error` itself (our SQL's error)."""
        from grove_explorer.server.store.postgres.failures import storage_failure

        failure = storage_failure(error, self._url)
        return error if failure is None else failure

    def _tick(self) -> datetime:
        """Returns now, strictly after the previous write's time in this process."""
        return self._clock.tick()

    def _ticks(self, count: int) -> datetime:
        """The first of `count` times of the store's clock, one microsecond apart."""
        return self._clock.ticks(count)

    async def check_integrity(self) -> list[str]:
        """[] — PostgreSQL checks its own pages; kept for the `Store` maintenance surface."""
        await self._read("SELECT 1")
        return []


async def require_owned(
    conn: psycopg.AsyncConnection[Any], user_id: str, conversation_id: str
) -> None:
    """Inside a transaction: UnknownConversationError unless the conversation is theirs.

    The row is locked (FOR SHARE) until the transaction ends, so a concurrent delete on
    another replica waits rather than leaving the write pointing at nothing.
    """
    cursor = await conn.execute(
        "SELECT 1 FROM conversations WHERE conversation_id = %s AND user_id = %s FOR SHARE",
        (conversation_id, user_id),
    )
    if await cursor.fetchone() is None:
        raise UnknownConversationError(conversation_id)
