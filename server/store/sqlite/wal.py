"""WAL checkpoints on their own connection and thread, off the writer's commits.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages:
that commit copies every page into the database file and syncs both files (twice fsync
with synchronous=NORMAL), on the writer's thread. Every write queued behind it waits, and
under load that was a group commit of starting streams' human messages: one group took
65-75 ms on the writer's thread for 1-4 ms of CPU (bench.load --probe-server-loop). The
writer now never checkpoints (`PRAGMA wal_autocheckpoint = 0`); after commits, at most
every `interval` seconds, a PASSIVE checkpoint runs on a third connection's thread. A
PASSIVE checkpoint waits for nobody and nobody waits for it: the writer appends to the WAL
meanwhile and readers read as before. What it cannot copy yet (pages a reader still
needs) the next one copies; closing the store checkpoints what is left (SQLite does, as the
last connection closes).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import aiosqlite

log = logging.getLogger(__name__)

# Seconds between background checkpoints while writes go on: SQLite's own threshold of
# 1,000 pages is reached every few seconds under the heaviest load measured (200 streams).
CHECKPOINT_INTERVAL_S = 0.5


def accepts_work(conn: aiosqlite.Connection) -> bool:
    """True while `conn`'s thread takes work (as aiosqlite's own `_execute` checks)."""
    return bool(conn._running and conn._connection is not None)


class WalCheckpointer:
    """Runs PASSIVE checkpoints on `conn` (its own aiosqlite thread) after commits."""

    def __init__(self, conn: aiosqlite.Connection, interval: float = CHECKPOINT_INTERVAL_S):
        self._conn = conn
        self._interval = interval
        self._last = -interval
        # The checkpoint under way (a future done when it is back), if any.
        self._trip: asyncio.Future[None] | None = None
        self.checkpoints = 0  # how many ran (tests read it)

    def after_commit(self) -> None:
        """A transaction was committed: checkpoint now if none ran for `interval` seconds.

        Called on the loop; never waits. A checkpoint under way is not doubled.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._trip is not None or now - self._last < self._interval:
            return
        if not accepts_work(self._conn):
            return
        self._last = now
        trip: asyncio.Future[None] = loop.create_future()
        self._trip = trip
        conn = self._conn._conn

        def on_thread() -> None:
            failure: BaseException | None = None
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except BaseException as error:  # reported on the loop; the next one retries
                failure = error
            loop.call_soon_threadsafe(back, failure)

        def back(failure: BaseException | None) -> None:
            self._trip = None
            self.checkpoints += 1
            trip.set_result(None)
            if isinstance(failure, sqlite3.Error):
                log.warning("WAL checkpoint failed (retried after the next write): %s", failure)
            elif failure is not None:
                log.error("WAL checkpoint failed: %r", failure)

        # aiosqlite's own queue to its thread, without its future (as the store's reads).
        self._conn._tx.put_nowait((None, on_thread))

    async def close(self) -> None:
        """Waits for a checkpoint under way, then closes the connection."""
        while self._trip is not None:
            await asyncio.wait([self._trip])
        await self._conn.close()
