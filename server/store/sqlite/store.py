"""`SqliteStore`: the `Store` and `KeyStore` protocols in one SQLite file.

The class only assembles the table groups; each lives in its own module of this package
on top of `SqliteDatabase` (connection.py), which holds the connections, the write lock
and the clock they share. See connection.py for the design.
"""

from __future__ import annotations

from grove_explorer.server.store.sqlite.annotations import AnnotationQueries
from grove_explorer.server.store.sqlite.arena import ArenaQueries
from grove_explorer.server.store.sqlite.checkpoints import CheckpointQueries
from grove_explorer.server.store.sqlite.conversations import ConversationQueries
from grove_explorer.server.store.sqlite.imports import ImportQueries
from grove_explorer.server.store.sqlite.judgements import JudgementQueries
from grove_explorer.server.store.sqlite.keys import ApiKeyQueries
from grove_explorer.server.store.sqlite.leaves import LeafQueries
from grove_explorer.server.store.sqlite.responses import ResponseQueries
from grove_explorer.server.store.sqlite.search import SearchQueries
from grove_explorer.server.store.sqlite.sharing import SharingQueries


class SqliteStore(
    ConversationQueries,
    ResponseQueries,
    LeafQueries,
    AnnotationQueries,
    JudgementQueries,
    ArenaQueries,
    SearchQueries,
    SharingQueries,
    ImportQueries,
    CheckpointQueries,
    ApiKeyQueries,
):
    """Conversation forests and API keys in one SQLite file (see connection.py)."""
