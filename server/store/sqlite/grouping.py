"""Group commit and grouped reads: many store calls, one trip to a connection's thread.

Under load every trip to an aiosqlite thread is a hand-off through the GIL and a wake-up
of the event loop, taken in turn behind every other trip. The functions here run on the
connection's own thread: a whole group of writes in one transaction (a failure stays its
caller's), or a group of read statements one after another. `SqliteDatabase._write` and
`_read` (connection.py) gather the groups.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
# A group-committed write: runs on the writer's thread inside the open transaction, with
# the store's clock for this write (strictly after every earlier write's time).
WriteJob = Callable[[sqlite3.Connection, datetime], T]
# One job's outcome: (True, its result) or (False, the exception it raised).
Outcome = tuple[bool, Any]
# A job as the writer's thread gets it: the write, its time, and whether its caller gave
# up (read from that thread; a cancelled future never becomes uncancelled).
Job = tuple[WriteJob[Any], datetime, Callable[[], bool]]


@dataclass(eq=False)
class PendingWrite:
    """A write waiting for the next group commit, and the future its caller awaits."""

    job: WriteJob[Any]
    future: asyncio.Future[Any]


def settle(
    futures: Sequence[asyncio.Future[Any]],
    outcomes: Sequence[Outcome],
    as_raised: Callable[[BaseException], BaseException] = lambda error: error,
) -> None:
    """Gives each waiting caller its outcome (its error through `as_raised`), in order.

    A caller that gave up meanwhile (its future is done) is skipped.
    """
    for future, (ok, value) in zip(futures, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(as_raised(value))


def fail_waiting(
    futures: Iterable[asyncio.Future[Any]],
    error: BaseException,
    closed: Callable[[str], Exception],
) -> None:
    """Fails every caller still waiting when a trip loop itself dies (nobody waits forever).

    A non-`Exception` (the loop being torn down) reaches them as `closed(str(error))`.
    """
    failure = error if isinstance(error, Exception) else closed(str(error))
    for future in futures:
        if not future.done():
            future.set_exception(failure)


def run_group(conn: sqlite3.Connection, jobs: Sequence[Job]) -> list[Outcome]:
    """Runs `jobs` in one transaction on the writer's thread; one outcome per job, in order.

    A job that raises fails alone. If it changed nothing (`total_changes` did not move: a
    refused checked insert, or a statement SQLite undid, as on a full disk) and the
    transaction stands, the group goes on. Otherwise the transaction is rolled back and the
    jobs that had succeeded run again with the rest, without the failed one (the same when
    SQLite itself ended the transaction). If COMMIT fails, each job runs again alone, so
    only those that cannot be written fail. Every pass settles at least one job, so this
    ends. No SAVEPOINT per job: each statement is a trip through the GIL for this thread,
    which a busy event loop holds, and failures are rare.
    """
    outcomes: list[Outcome | None] = [None] * len(jobs)
    waiting = list(range(len(jobs)))
    while waiting:
        waiting, alone = _attempt(conn, jobs, waiting, outcomes)
        for index in alone:
            _attempt(conn, jobs, [index], outcomes)
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def _attempt(
    conn: sqlite3.Connection,
    jobs: Sequence[Job],
    indices: list[int],
    outcomes: list[Outcome | None],
) -> tuple[list[int], list[int]]:
    """One transaction over `indices`; returns (jobs to retry together, jobs to retry alone)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        for index in indices:
            outcomes[index] = (False, error)
        return [], []
    succeeded: list[int] = []
    try:
        for position, index in enumerate(indices):
            job, now, cancelled = jobs[index]
            if cancelled():
                # Its caller gave up before it ran: nothing of it is written.
                outcomes[index] = (False, asyncio.CancelledError())
                continue
            changes = conn.total_changes
            try:
                result = job(conn, now)
            except Exception as error:
                outcomes[index] = (False, error)
                if conn.in_transaction and conn.total_changes == changes:
                    continue  # it left nothing behind: the others are unharmed
                # Part of it was written, or SQLite ended the transaction: start over
                # without it (the writes of the jobs before are undone too).
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                for done in succeeded:
                    outcomes[done] = None
                return succeeded + indices[position + 1 :], []
            outcomes[index] = (True, result)
            succeeded.append(index)
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if len(succeeded) <= 1:
            for done in succeeded:
                outcomes[done] = (False, error)
            return [], []
        # Which write COMMIT choked on is unknown: each is tried again on its own.
        for done in succeeded:
            outcomes[done] = None
        return [], succeeded
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return [], []


@dataclass(eq=False)
class PendingRead:
    """A read statement waiting for the next trip to the reader's thread."""

    sql: str
    parameters: Sequence[Any] | dict[str, Any]
    future: asyncio.Future[list[Any]]


def run_reads(
    conn: sqlite3.Connection, reads: Sequence[tuple[str, Sequence[Any] | dict[str, Any]]]
) -> list[Outcome]:
    """Runs each read statement on the reader's thread; one outcome per read, in order."""
    outcomes: list[Outcome] = []
    for sql, parameters in reads:
        try:
            outcomes.append((True, conn.execute(sql, parameters).fetchall()))
        except Exception as error:
            outcomes.append((False, error))
    return outcomes
