"""The store a database location names: the one place that picks SQLite or PostgreSQL.

`grove serve`, the app's embedded server, the headless commands (through the server's
config) and `grove keys` all open their store here, so a `postgresql://` URL means the
same everywhere. Each store's package is imported only when chosen: SQLite users never
load psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grove_explorer.server.store.location import DatabaseLocation, PostgresUrl

if TYPE_CHECKING:
    from grove_explorer.server.store.postgres import PostgresStore
    from grove_explorer.server.store.sqlite import Durability, SqliteStore


def store_at(
    db: DatabaseLocation,
    *,
    durability: Durability = "normal",
    read_only: bool = False,
    allow_damaged: bool = False,
) -> SqliteStore | PostgresStore:
    """The store of `db` (not open yet); the file options apply to a SQLite file only.

    Raises ValueError when a file option is given with a PostgreSQL database, which is
    always opened for reading and writing.
    """
    if isinstance(db, PostgresUrl):
        if read_only or allow_damaged:
            raise ValueError(
                "--read-only and --allow-damaged-db apply to SQLite files only; "
                "a PostgreSQL database is opened for reading and writing."
            )
        from grove_explorer.server.store.postgres import PostgresStore

        return PostgresStore(db)
    from grove_explorer.server.store.sqlite import SqliteStore

    return SqliteStore(db, durability=durability, read_only=read_only, allow_damaged=allow_damaged)
