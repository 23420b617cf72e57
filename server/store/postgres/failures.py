"""PostgreSQL's errors about the database itself, as the store's `StorageFailure`s.

Errors of our own SQL (a constraint we rely on, a bug) stay what they are; only the
database being unreachable, full, read-only or damaged becomes a StorageFailure with a
sentence that says what to do, so the servicer answers with the one status of its kind.
"""

from __future__ import annotations

from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.protocol import StorageFailure


def storage_failure(error: BaseException, url: PostgresUrl) -> StorageFailure | None:
    """The StorageFailure `error` stands for, or None when it is not about the storage."""
    if isinstance(error, StorageFailure):
        return error
    try:
        import psycopg
        from psycopg import errors
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover - no driver, no psycopg errors either
        return None
    if isinstance(error, PoolTimeout):
        return StorageFailure(
            "io",
            f"The PostgreSQL database {url} did not give a connection in time: it is "
            "unreachable or every connection is busy. Check that the server runs.",
        )
    if isinstance(error, errors.DiskFull | errors.OutOfMemory | errors.ProgramLimitExceeded):
        return StorageFailure(
            "full", f"The PostgreSQL database {url} is full or over a limit: {_first_line(error)}"
        )
    if isinstance(error, errors.ReadOnlySqlTransaction):
        return StorageFailure(
            "read_only",
            f"The PostgreSQL database {url} accepts no writes (a read-only replica or "
            f"transaction): {_first_line(error)}",
        )
    if isinstance(error, errors.DataCorrupted | errors.IndexCorrupted):
        return StorageFailure(
            "corrupt", f"The PostgreSQL database {url} reports damage: {_first_line(error)}"
        )
    if isinstance(error, psycopg.OperationalError) and _connection_lost(error):
        return StorageFailure(
            "io",
            f"The PostgreSQL database {url} cannot be reached: {_first_line(error)}",
        )
    return None


_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now: the server went away or is starting."""


def _connection_lost(error: BaseException) -> bool:
    """Whether an OperationalError is about the connection (not a deadlock, a timeout …).

    libpq's own connection errors carry no SQLSTATE; the server's are class 08 or the
    shutdown states. Serialization failures and deadlocks are OperationalErrors too, but
    they are the caller's to retry, not a database that is gone.
    """
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in _SHUTDOWN_STATES


def _first_line(error: BaseException) -> str:
    """The first line of a driver message (libpq's often run on with hints)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
