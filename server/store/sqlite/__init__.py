"""The SQLite implementation of the `Store` and `KeyStore` protocols, by table group.

connection.py holds the connections, the write transaction and the clock; rows.py maps
rows to records; conversations, responses, annotations, search, imports, checkpoints and
keys hold the queries of their tables; store.py assembles them into `SqliteStore`.
"""

from grove_explorer.server.store.rows import decode_tokens, encode_tokens
from grove_explorer.server.store.sqlite.connection import (
    Durability,
    SqliteDatabase,
    StoreClosedError,
)
from grove_explorer.server.store.sqlite.store import SqliteStore

__all__ = [
    "Durability",
    "SqliteDatabase",
    "SqliteStore",
    "StoreClosedError",
    "decode_tokens",
    "encode_tokens",
]
