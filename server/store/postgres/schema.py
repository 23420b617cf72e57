"""Schema migrations of the PostgreSQL store.

The same rules as the SQLite store's (server/store/migrations.py): the schema grows by
appending a `PgMigration`, never by editing one that shipped; a database records every
version applied in `schema_version`; each migration runs in one transaction with the row
that records it (PostgreSQL's DDL is transactional); a database written by newer code is
refused. Version 1 is the SQLite store's schema at its version 15, in PostgreSQL's types:
`timestamptz` times, `boolean` flags, `bytea` token blobs, identity `seq` columns.
Version 2 is the full-text search index (search_schema.py) and judgements' `seq`; version 3
the shares between users and responses' `author` (SQLite's 16); version 4 responses'
`request_id` (SQLite's 17, request_schema.py); version 5 less database work per
imported response (import_speed_schema.py: `IMPORT_SPEED`); version 6 the index of human
messages' request ids (SQLite's 18, request_message_schema.py).

Replicas that start together each call `migrate`; a transaction-level advisory lock makes
the second wait for the first and then find nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grove_explorer.server.store.migrations import SchemaVersionError
from grove_explorer.server.store.postgres.import_speed_schema import (
    IMPORT_SPEED_DESCRIPTION,
    IMPORT_SPEED_STATEMENTS,
)
from grove_explorer.server.store.postgres.search_schema import (
    SEARCH_DESCRIPTION,
    SEARCH_STATEMENTS,
)
from grove_explorer.server.store.request_message_schema import (
    PG_REQUEST_MESSAGES_STATEMENTS,
    REQUEST_MESSAGES_DESCRIPTION,
)
from grove_explorer.server.store.request_schema import (
    PG_REQUEST_IDS_STATEMENTS,
    REQUEST_IDS_DESCRIPTION,
)
from grove_explorer.server.store.sharing_schema import SHARING_DESCRIPTION

MIGRATION_LOCK = 0x67726F7665
"""The advisory lock key held while migrating ("grove" in ASCII)."""


@dataclass(frozen=True, slots=True)
class PgMigration:
    """One step of the schema: the statements that take `version - 1` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


_CORE = PgMigration(
    version=1,
    description="users, keys, conversations, responses, places, annotations, tokens, "
    "checkpoints, judgements, arena votes (SQLite schema 15)",
    statements=(
        """
        CREATE TABLE users (
            user_id     text PRIMARY KEY,
            create_time timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE api_keys (
            key_hash    text PRIMARY KEY,
            key_id      text UNIQUE,
            user_id     text NOT NULL,
            label       text NOT NULL DEFAULT '',
            create_time timestamptz NOT NULL,
            revoked     boolean NOT NULL DEFAULT false,
            revoke_time timestamptz
        )
        """,
        "CREATE INDEX api_keys_active ON api_keys (user_id) WHERE NOT revoked",
        # `seq` orders conversations created in the same microsecond on two replicas.
        """
        CREATE TABLE conversations (
            seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            conversation_id text PRIMARY KEY,
            user_id         text NOT NULL,
            title           text NOT NULL DEFAULT '',
            starred         boolean NOT NULL DEFAULT false,
            create_time     timestamptz NOT NULL,
            update_time     timestamptz NOT NULL
        )
        """,
        "CREATE INDEX conversations_user_update ON conversations (user_id, update_time)",
        # Columns in the SQLite table's order; sampling columns all NULL or all set.
        """
        CREATE TABLE responses (
            seq                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            response_id                 text NOT NULL UNIQUE,
            conversation_id             text NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            user_id                     text NOT NULL,
            parent_response_id          text,
            message                     text NOT NULL,
            sender                      text NOT NULL,
            manual                      boolean NOT NULL DEFAULT false,
            partial                     boolean NOT NULL DEFAULT false,
            shared                      boolean NOT NULL DEFAULT false,
            query                       text NOT NULL DEFAULT '',
            query_type                  text NOT NULL DEFAULT '',
            model_name                  text NOT NULL DEFAULT '',
            temperature                 double precision,
            top_p                       double precision,
            max_tokens                  integer,
            seed                        bigint,
            token_count                 integer NOT NULL DEFAULT 0,
            time_to_first_token_seconds double precision NOT NULL DEFAULT 0,
            total_time_seconds          double precision NOT NULL DEFAULT 0,
            create_time                 timestamptz NOT NULL,
            prefix_length               integer NOT NULL DEFAULT 0,
            start_time                  timestamptz NOT NULL,
            finish_reason               text NOT NULL DEFAULT '',
            reported_prompt_tokens      integer,
            reported_completion_tokens  integer,
            merged_from                 text NOT NULL DEFAULT '',
            merge_mode                  text NOT NULL DEFAULT '',
            merge_instruction           text NOT NULL DEFAULT '',
            replay_of                   text NOT NULL DEFAULT '',
            system_prompt_name          text,
            CHECK ((temperature IS NULL) = (top_p IS NULL)
                   AND (top_p IS NULL) = (max_tokens IS NULL)
                   AND (max_tokens IS NULL) = (seed IS NULL))
        )
        """,
        "CREATE INDEX responses_conversation_seq ON responses (conversation_id, seq)",
        "CREATE INDEX responses_conversation_start ON responses (conversation_id, start_time, seq)",
        "CREATE INDEX responses_parent ON responses (parent_response_id)",
        # An import marks its conversation here while it inserts, so the per-row trigger
        # below leaves update_time alone (the import sets it once at the end).
        "CREATE TABLE bulk_imports (conversation_id text PRIMARY KEY)",
        """
        CREATE FUNCTION responses_touch_conversation() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM bulk_imports
                           WHERE conversation_id = NEW.conversation_id) THEN
                UPDATE conversations SET update_time = NEW.create_time
                WHERE conversation_id = NEW.conversation_id
                  AND update_time < NEW.create_time;
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER responses_touch_conversation AFTER INSERT ON responses
        FOR EACH ROW EXECUTE FUNCTION responses_touch_conversation()
        """,
        """
        CREATE TABLE leaves (
            user_id         text NOT NULL,
            conversation_id text NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            response_id     text REFERENCES responses (response_id) ON DELETE SET NULL,
            follows         text,
            update_time     timestamptz NOT NULL,
            PRIMARY KEY (user_id, conversation_id)
        )
        """,
        "CREATE INDEX leaves_conversation ON leaves (conversation_id)",
        """
        CREATE TABLE annotations (
            response_id text PRIMARY KEY
                REFERENCES responses (response_id) ON DELETE CASCADE,
            user_id     text NOT NULL,
            bookmarked  boolean NOT NULL DEFAULT false,
            tags        text NOT NULL DEFAULT '[]',
            rating      integer NOT NULL DEFAULT 0 CHECK (rating IN (-1, 0, 1)),
            note        text NOT NULL DEFAULT '',
            update_time timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE response_tokens (
            response_id text PRIMARY KEY
                REFERENCES responses (response_id) ON DELETE CASCADE,
            data        bytea NOT NULL
        )
        """,
        """
        CREATE TABLE checkpoints (
            checkpoint_id   text PRIMARY KEY,
            user_id         text NOT NULL,
            conversation_id text NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            response        text NOT NULL,
            owner           text NOT NULL DEFAULT '',
            create_time     timestamptz NOT NULL,
            update_time     timestamptz NOT NULL
        )
        """,
        "CREATE INDEX checkpoints_owner ON checkpoints (owner)",
        """
        CREATE TABLE judgements (
            judgement_id    text PRIMARY KEY,
            response_id     text NOT NULL
                REFERENCES responses (response_id) ON DELETE CASCADE,
            conversation_id text NOT NULL,
            user_id         text NOT NULL,
            score           double precision NOT NULL CHECK (score >= 0 AND score <= 10),
            rationale       text NOT NULL,
            judge_model     text NOT NULL,
            rubric_name     text NOT NULL,
            rubric          text NOT NULL,
            temperature     double precision,
            top_p           double precision,
            max_tokens      integer,
            seed            bigint,
            mode            text NOT NULL CHECK (mode IN ('each', 'table')),
            batch_id        text NOT NULL,
            heuristic       boolean NOT NULL,
            create_time     timestamptz NOT NULL
        )
        """,
        "CREATE INDEX judgements_response ON judgements (response_id)",
        "CREATE INDEX judgements_conversation ON judgements (conversation_id, user_id)",
        """
        CREATE TABLE arena_votes (
            seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            vote_id            text PRIMARY KEY,
            user_id            text NOT NULL,
            conversation_id    text NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            parent_response_id text NOT NULL,
            response_a         text NOT NULL
                REFERENCES responses (response_id) ON DELETE CASCADE,
            response_b         text NOT NULL
                REFERENCES responses (response_id) ON DELETE CASCADE,
            setup_a            text NOT NULL,
            setup_b            text NOT NULL,
            outcome            text NOT NULL CHECK (outcome IN ('a', 'b', 'tie', 'both_bad')),
            create_time        timestamptz NOT NULL
        )
        """,
        "CREATE INDEX arena_votes_user ON arena_votes (user_id, conversation_id)",
        "CREATE INDEX arena_votes_conversation ON arena_votes (conversation_id)",
        "CREATE INDEX arena_votes_response_a ON arena_votes (response_a)",
        "CREATE INDEX arena_votes_response_b ON arena_votes (response_b)",
    ),
)

_SEARCH = PgMigration(
    version=2,
    description=f"{SEARCH_DESCRIPTION}; judgements in insertion order",
    statements=(
        *SEARCH_STATEMENTS,
        # A judge call's batch shares one time: its order is the insertion order, which
        # SQLite reads from the rowid (PostgreSQL rows have none that lasts).
        "ALTER TABLE judgements ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE",
    ),
)

_SHARING = PgMigration(
    version=3,
    description=SHARING_DESCRIPTION,
    statements=(
        # As the SQLite store's migration 16 (sharing_schema.py): one row per user a
        # conversation is shared with (never its owner); gone with the conversation.
        """
        CREATE TABLE shares (
            conversation_id text NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            user_id         text NOT NULL,
            role            text NOT NULL CHECK (role IN ('reader', 'writer')),
            granted_by      text NOT NULL,
            create_time     timestamptz NOT NULL,
            PRIMARY KEY (conversation_id, user_id)
        )
        """,
        "CREATE INDEX shares_user ON shares (user_id, conversation_id)",
        "ALTER TABLE responses ADD COLUMN author text NOT NULL DEFAULT ''",
    ),
)

_REQUEST_IDS = PgMigration(
    version=4,
    description=REQUEST_IDS_DESCRIPTION,
    statements=PG_REQUEST_IDS_STATEMENTS,  # as the SQLite store's migration 17
)

IMPORT_SPEED = PgMigration(
    version=5,
    description=IMPORT_SPEED_DESCRIPTION,
    statements=IMPORT_SPEED_STATEMENTS,  # PostgreSQL only: SQLite's import skips its triggers
)
"""Version 5 (import_speed_schema.py): less database work per imported response."""

_REQUEST_MESSAGES = PgMigration(
    version=6,
    description=REQUEST_MESSAGES_DESCRIPTION,
    statements=PG_REQUEST_MESSAGES_STATEMENTS,  # as the SQLite store's migration 18
)

PG_MIGRATIONS: tuple[PgMigration, ...] = (
    _CORE,
    _SEARCH,
    _SHARING,
    _REQUEST_IDS,
    IMPORT_SPEED,
    _REQUEST_MESSAGES,
)
"""Every migration, in version order (versions 1, 2, … without gaps)."""

LATEST_PG_VERSION = PG_MIGRATIONS[-1].version


MIGRATION_REFUSED = "GRV01"
"""The SQLSTATE a migration raises with a sentence of its own (e.g. a missing extension)."""


async def _execute(conn: Any, statement: str) -> None:
    """Runs one migration statement; a refusal of our own as SchemaVersionError (its words)."""
    try:
        await conn.execute(statement)
    except Exception as error:
        if getattr(error, "sqlstate", None) != MIGRATION_REFUSED:
            raise
        diagnostic = getattr(error, "diag", None)
        message = getattr(diagnostic, "message_primary", None) or str(error)
        raise SchemaVersionError(message) from None


async def current_version(conn: Any) -> int:
    """The highest schema version recorded (0 for an empty database)."""
    cursor = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cursor.fetchone()
    if not row or not row[0]:
        return 0
    cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: Any, migrations: tuple[PgMigration, ...] = PG_MIGRATIONS) -> int:
    """Applies every migration above the database's version, each in one transaction.

    `conn` is an autocommit psycopg AsyncConnection. Returns the version reached. Raises
    SchemaVersionError for a database newer than `migrations` or a list with gaps.
    """
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise SchemaVersionError("PostgreSQL migrations must be numbered 1, 2, … without gaps")
    latest = migrations[-1].version
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, applied_time timestamptz NOT NULL)"
        )
    version = await current_version(conn)
    if version > latest:
        raise SchemaVersionError(
            f"The database has schema version {version}, newer than this Grove knows "
            f"({latest}). Upgrade Grove to use it."
        )
    for migration in migrations[version:]:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if await current_version(conn) >= migration.version:
                continue  # another replica applied it while we waited for the lock
            for statement in migration.statements:
                await _execute(conn, statement)
            await conn.execute(
                "INSERT INTO schema_version (version, applied_time) VALUES (%s, now())",
                (migration.version,),
            )
    return max(version, latest)
