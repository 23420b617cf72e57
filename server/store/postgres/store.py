"""`PostgresStore`: the `Store` and `KeyStore` protocols on a PostgreSQL database.

The class only assembles the table groups; each lives in its own module of this package on
top of `PostgresDatabase` (connection.py), which holds the pool, the clock and the failure
mapping they share. See connection.py for the design (several replicas, one database).
"""

from __future__ import annotations

from grove_explorer.server.store.postgres.annotations import AnnotationQueries
from grove_explorer.server.store.postgres.arena import ArenaQueries
from grove_explorer.server.store.postgres.checkpoints import CheckpointQueries
from grove_explorer.server.store.postgres.conversations import ConversationQueries
from grove_explorer.server.store.postgres.imports import ImportQueries
from grove_explorer.server.store.postgres.judgements import JudgementQueries
from grove_explorer.server.store.postgres.keys import ApiKeyQueries
from grove_explorer.server.store.postgres.leaves import LeafQueries
from grove_explorer.server.store.postgres.responses import ResponseQueries
from grove_explorer.server.store.postgres.search import SearchQueries
from grove_explorer.server.store.postgres.sharing import SharingQueries


class PostgresStore(
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
    """Conversation forests and API keys in one PostgreSQL database (see connection.py)."""
