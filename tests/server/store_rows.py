"""Independent reads of a store's tables, on either kind of database (contract tests).

The contract tests check what a store wrote through a connection of their own — sqlite3
on the file, psycopg on the PostgreSQL database — so they do not merely trust what the
store says about itself. Statements are written with `?` placeholders (SQLite's); they
are rewritten to `%s` for PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import default_store
from grove_explorer.server.store import Store
from grove_explorer.server.store.location import DatabaseLocation


def rows(location: DatabaseLocation, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row `sql` selects, read beside the store (WAL readers / another session)."""
    if isinstance(location, Path):
        with closing(sqlite3.connect(location, isolation_level=None)) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    import psycopg

    with psycopg.connect(location.url, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params).fetchall()]


def scalar(location: DatabaseLocation, sql: str, *params: Any) -> Any:
    """The first column of the first row `sql` selects."""
    return rows(location, sql, *params)[0][0]


def count(location: DatabaseLocation, table: str) -> int:
    """How many rows `table` holds."""
    return int(scalar(location, f"SELECT COUNT(*) FROM {table}"))


def another_store(location: DatabaseLocation) -> Store:
    """A second store on the same database, not yet open: another replica (or process)."""
    return default_store(ServerConfig(db=location))
