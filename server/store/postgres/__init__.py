"""The PostgreSQL implementation of the `Store` and `KeyStore` protocols, by table group.

The team server's store (`--db postgresql://…`): the same protocol, records and behaviour
as the SQLite store (server/store/sqlite/), for several `grove serve` replicas on one
database. connection.py holds the pool, transactions and the clock; schema.py the
migrations; the other modules one table group each; store.py assembles `PostgresStore`.
psycopg is imported only when a store opens, so SQLite users never load it.
"""

from grove_explorer.server.store.postgres.connection import PostgresDatabase, StoreClosedError
from grove_explorer.server.store.postgres.store import PostgresStore

__all__ = ["PostgresDatabase", "PostgresStore", "StoreClosedError"]
