"""Schema migrations of the SQLite store.

The schema evolves by appending a `Migration` to `MIGRATIONS`, never by editing one that
has shipped: a database records in its `schema_version` table every version applied to it,
and `migrate` applies only those above the highest recorded one. Each migration runs in its
own `BEGIN IMMEDIATE` transaction together with the row that records it, so a crash or a
failing statement leaves the database at the previous version rather than half-migrated
(SQLite's DDL is transactional). A database written by newer code is refused rather than
guessed at, because this code cannot know what the newer schema means.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from grove_explorer.server.store.arena_schema import ARENA_VOTES_STATEMENTS
from grove_explorer.server.store.request_message_schema import (
    REQUEST_MESSAGES_DESCRIPTION,
    REQUEST_MESSAGES_STATEMENTS,
)
from grove_explorer.server.store.request_schema import (
    REQUEST_IDS_DESCRIPTION,
    REQUEST_IDS_STATEMENTS,
)
from grove_explorer.server.store.research_schema import RESEARCH_STATEMENTS
from grove_explorer.server.store.sharing_schema import SHARING_DESCRIPTION, SHARING_STATEMENTS


class SchemaVersionError(RuntimeError):
    """The database's schema cannot be used by this code (e.g. it is newer than the code)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: the statements that take version `version - 1` to `version`.

    Statements are run one by one with `execute` rather than as a script, because Python's
    `executescript` commits any open transaction first and would break the atomicity of
    the migration.
    """

    version: int
    description: str
    statements: tuple[str, ...]


_INITIAL_SCHEMA = Migration(
    version=1,
    description="conversations, responses; empty users and api_keys for authentication",
    statements=(
        # Reserved for authentication ("keys"): created now so that issue only adds rows.
        """
        CREATE TABLE users (
            user_id     TEXT PRIMARY KEY,
            create_time TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE api_keys (
            key_hash    TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL,
            create_time TEXT NOT NULL,
            revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
        )
        """,
        # Times are ISO-8601 UTC strings with microseconds and a fixed "+00:00" suffix, so
        # they round-trip exactly and sort as text in time order.
        """
        CREATE TABLE conversations (
            conversation_id TEXT PRIMARY KEY,
            user_id         TEXT NOT NULL,
            title           TEXT NOT NULL DEFAULT '',
            starred         INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1)),
            create_time     TEXT NOT NULL,
            update_time     TEXT NOT NULL
        )
        """,
        # Serves list_conversations (a user's conversations, newest update first).
        "CREATE INDEX conversations_user_update ON conversations (user_id, update_time)",
        # `seq` (the rowid, AUTOINCREMENT so it is never reused) is the creation order.
        # Sampling columns are all NULL (no sampling recorded) or all set.
        """
        CREATE TABLE responses (
            seq                         INTEGER PRIMARY KEY AUTOINCREMENT,
            response_id                 TEXT NOT NULL UNIQUE,
            conversation_id             TEXT NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            user_id                     TEXT NOT NULL,
            parent_response_id          TEXT,
            message                     TEXT NOT NULL,
            sender                      TEXT NOT NULL,
            manual                      INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
            partial                     INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
            shared                      INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
            query                       TEXT NOT NULL DEFAULT '',
            query_type                  TEXT NOT NULL DEFAULT '',
            model_name                  TEXT NOT NULL DEFAULT '',
            temperature                 REAL,
            top_p                       REAL,
            max_tokens                  INTEGER,
            seed                        INTEGER,
            token_count                 INTEGER NOT NULL DEFAULT 0,
            time_to_first_token_seconds REAL NOT NULL DEFAULT 0,
            total_time_seconds          REAL NOT NULL DEFAULT 0,
            create_time                 TEXT NOT NULL,
            CHECK ((temperature IS NULL) = (top_p IS NULL)
                   AND (top_p IS NULL) = (max_tokens IS NULL)
                   AND (max_tokens IS NULL) = (seed IS NULL))
        )
        """,
        # Serves list_responses and the ON DELETE CASCADE of a conversation.
        "CREATE INDEX responses_conversation_seq ON responses (conversation_id, seq)",
    ),
)

_CHECKPOINTS = Migration(
    version=2,
    description="checkpoints: the text of replies still streaming, saved periodically",
    statements=(
        # One row per running stream; `response` is the JSON of the NewResponse the stream
        # would store now (partial). The row goes in the same transaction that stores the
        # reply; rows left by a crash become partial replies when the server starts again.
        """
        CREATE TABLE checkpoints (
            checkpoint_id   TEXT PRIMARY KEY,
            user_id         TEXT NOT NULL,
            conversation_id TEXT NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            response        TEXT NOT NULL,
            create_time     TEXT NOT NULL,
            update_time     TEXT NOT NULL
        )
        """,
    ),
)

_API_KEY_DETAILS = Migration(
    version=3,
    description="api_keys: public key_id, label, revoke_time; index of the active keys",
    statements=(
        # `key_id` is the short, non-secret name that `grove keys list/revoke` show and
        # accept: the first 12 hex digits of the key's hash. Rows written before this step
        # (none should exist: the table was reserved) get theirs from the hash too.
        "ALTER TABLE api_keys ADD COLUMN key_id TEXT",
        "UPDATE api_keys SET key_id = substr(key_hash, 1, 12) WHERE key_id IS NULL",
        "CREATE UNIQUE INDEX api_keys_key_id ON api_keys (key_id)",
        "ALTER TABLE api_keys ADD COLUMN label TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE api_keys ADD COLUMN revoke_time TEXT",
        # Answers "does any active key exist?" (asked by calls without a valid key) from
        # one index entry instead of a scan over revoked keys.
        "CREATE INDEX api_keys_active ON api_keys (user_id) WHERE revoked = 0",
    ),
)

_RESEARCH = Migration(
    version=4,
    description="annotations, response tokens, prefix length, FTS5 search index",
    statements=RESEARCH_STATEMENTS,
)

_CHECKPOINT_OWNERS = Migration(
    version=5,
    description="checkpoints: the server process that writes each one",
    statements=(
        # "host:pid:instance", so a server sharing the database recovers only checkpoints
        # of servers that are gone (see server/owners.py).
        "ALTER TABLE checkpoints ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    ),
)

_TOUCH_BY_TRIGGER = Migration(
    version=6,
    description="a new response sets its conversation's update_time (by trigger)",
    statements=(
        # Part of the response insert itself, so the insert is one statement (one round
        # trip to the database thread) however many streams start at once.
        """
        CREATE TRIGGER responses_touch_conversation AFTER INSERT ON responses BEGIN
            UPDATE conversations SET update_time = new.create_time
            WHERE conversation_id = new.conversation_id;
        END
        """,
    ),
)

_LEAVES = Migration(
    version=7,
    description="leaves: each user's current leaf per conversation (keep my place)",
    statements=(
        # One row per user and conversation once the user chose a place; response_id NULL
        # means "no leaf" (a new root). The row goes with its conversation (cascade); a
        # response is never deleted on its own, so the leaf always names a live response.
        # `follows` names the checkpoint id of a stream the place follows (select_reply):
        # its human message and its reply — stored, stopped, or recovered after a crash —
        # take the place in the transaction that stores them, unless the user selected
        # something else since (which clears it).
        """
        CREATE TABLE leaves (
            user_id         TEXT NOT NULL,
            conversation_id TEXT NOT NULL
                REFERENCES conversations (conversation_id) ON DELETE CASCADE,
            response_id     TEXT REFERENCES responses (response_id) ON DELETE SET NULL,
            follows         TEXT,
            update_time     TEXT NOT NULL,
            PRIMARY KEY (user_id, conversation_id)
        )
        """,
        # Serves the cascade from conversations.
        "CREATE INDEX leaves_conversation ON leaves (conversation_id)",
    ),
)

_START_ORDER = Migration(
    version=8,
    description="responses.start_time: creation order is the order replies were started in",
    statements=(
        # A sampled reply is stored when it finishes, so `seq` is finish order; parallel
        # samples swapped numbers on reload. `start_time` is when making a response began
        # (the stream's start for a sampled reply, else create_time); siblings and
        # list_responses are ordered by (start_time, seq). Same text format as create_time.
        "ALTER TABLE responses ADD COLUMN start_time TEXT NOT NULL DEFAULT ''",
        # Older replies get their best estimate: stored time minus sampling time (to the
        # millisecond), never before their parent was stored; everything else its
        # create_time.
        """
        UPDATE responses SET start_time = CASE
            WHEN sender = 'model' AND manual = 0 AND total_time_seconds > 0 THEN max(
                strftime('%Y-%m-%dT%H:%M:%f',
                         julianday(create_time) - total_time_seconds / 86400.0)
                    || '000+00:00',
                coalesce((SELECT p.create_time FROM responses AS p
                          WHERE p.response_id = responses.parent_response_id), ''))
            ELSE create_time
        END
        """,
        "CREATE INDEX responses_conversation_start ON responses (conversation_id, start_time, seq)",
        # A writer that names no start (older code, tools, hand-written SQL) gets the
        # stored time, as before this column existed. The WHEN keeps the store's own
        # inserts (which always name one) free of the extra UPDATE.
        """
        CREATE TRIGGER responses_default_start AFTER INSERT ON responses
        WHEN new.start_time = '' BEGIN
            UPDATE responses SET start_time = new.create_time WHERE seq = new.seq;
        END
        """,
    ),
)

_FINISH_REASONS = Migration(
    version=9,
    description="responses: why sampling ended (finish_reason)",
    statements=(
        # '' (unknown) for every reply stored before: nothing tells after the fact.
        "ALTER TABLE responses ADD COLUMN finish_reason TEXT NOT NULL DEFAULT ''",
    ),
)

_BULK_IMPORTS = Migration(
    version=10,
    description="imports index their messages and touch their conversation once, not per row",
    statements=(
        # A conversation listed here is being imported by the open write transaction (the
        # import adds the row first and deletes it before COMMIT, so no other connection
        # ever sees one). Its response inserts skip the per-row triggers below; the import
        # then indexes every message with one INSERT … SELECT and sets update_time once
        # (server/store/sqlite/imports.py). Every other insert is unchanged: its lookup
        # in this (empty) table finds nothing and the triggers run as before.
        """
        CREATE TABLE bulk_imports (
            conversation_id TEXT PRIMARY KEY
        ) WITHOUT ROWID
        """,
        "DROP TRIGGER search_response_insert",
        """
        CREATE TRIGGER search_response_insert AFTER INSERT ON responses
        WHEN NOT EXISTS (SELECT 1 FROM bulk_imports
                         WHERE conversation_id = new.conversation_id) BEGIN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
            VALUES ('message', new.response_id, new.conversation_id, new.user_id);
            INSERT INTO search_text (rowid, text) VALUES (last_insert_rowid(), new.message);
        END
        """,
        "DROP TRIGGER responses_touch_conversation",
        """
        CREATE TRIGGER responses_touch_conversation AFTER INSERT ON responses
        WHEN NOT EXISTS (SELECT 1 FROM bulk_imports
                         WHERE conversation_id = new.conversation_id) BEGIN
            UPDATE conversations SET update_time = new.create_time
            WHERE conversation_id = new.conversation_id;
        END
        """,
    ),
)

_REPORTED_USAGE = Migration(
    version=11,
    description="responses: the endpoint's reported usage beside the tokens received",
    statements=(
        # NULL: the backend reported no usage (and every reply stored before).
        "ALTER TABLE responses ADD COLUMN reported_prompt_tokens INTEGER",
        "ALTER TABLE responses ADD COLUMN reported_completion_tokens INTEGER",
    ),
)

_JUDGEMENTS = Migration(
    version=12,
    description="judgements: a judge model's scores of replies, with their provenance",
    statements=(
        # One row per score of one reply by one judge call. Its user is the conversation's
        # user (as for annotations); conversation_id is repeated so that loading a
        # conversation reads its judgements with one indexed query, whatever its size.
        # Deleting a response (and so a conversation) deletes its judgements.
        """
        CREATE TABLE judgements (
            judgement_id    TEXT PRIMARY KEY,
            response_id     TEXT NOT NULL
                REFERENCES responses (response_id) ON DELETE CASCADE,
            conversation_id TEXT NOT NULL,
            user_id         TEXT NOT NULL,
            score           REAL NOT NULL CHECK (score >= 0 AND score <= 10),
            rationale       TEXT NOT NULL,
            judge_model     TEXT NOT NULL,
            rubric_name     TEXT NOT NULL,
            rubric          TEXT NOT NULL,
            temperature     REAL,
            top_p           REAL,
            max_tokens      INTEGER,
            seed            INTEGER,
            mode            TEXT NOT NULL CHECK (mode IN ('each', 'table')),
            batch_id        TEXT NOT NULL,
            heuristic       INTEGER NOT NULL CHECK (heuristic IN (0, 1)),
            create_time     TEXT NOT NULL
        )
        """,
        "CREATE INDEX judgements_response ON judgements (response_id)",
        "CREATE INDEX judgements_conversation ON judgements (conversation_id, user_id)",
    ),
)

_MERGES = Migration(
    version=13,
    description="responses: a fused reply's sources, mode and instruction",
    statements=(
        # A JSON array of the source response ids in the order given ("" for every reply
        # that is not fused). Read only with the reply itself, never queried by source, so
        # a column beside it costs no join on every read of a forest (a side table would).
        "ALTER TABLE responses ADD COLUMN merged_from TEXT NOT NULL DEFAULT ''",
        # "fuse", "checklist" or "custom"; "" for every other reply.
        "ALTER TABLE responses ADD COLUMN merge_mode TEXT NOT NULL DEFAULT ''",
        # The user's instruction (custom) or the checked points (checklist), as sent.
        "ALTER TABLE responses ADD COLUMN merge_instruction TEXT NOT NULL DEFAULT ''",
    ),
)

_REPLAYS = Migration(
    version=14,
    description="responses: a replayed turn's original and a sampled reply's system prompt",
    statements=(
        # The response of the original path a replayed turn replays ("" for every other).
        "ALTER TABLE responses ADD COLUMN replay_of TEXT NOT NULL DEFAULT ''",
        # The named system prompt a model reply was sampled under ("" the default prompt);
        # NULL when none was sent (use_grok false, completion mode), for human and manual
        # responses, and for every reply stored before this version (unknown).
        "ALTER TABLE responses ADD COLUMN system_prompt_name TEXT",
    ),
)

_ARENA_VOTES = Migration(
    version=15,
    description="arena_votes: a user's blind pairwise votes between two setups' replies",
    statements=ARENA_VOTES_STATEMENTS,  # arena_schema.py
)

_SHARING = Migration(
    version=16,
    description=SHARING_DESCRIPTION,
    statements=SHARING_STATEMENTS,  # sharing_schema.py
)

_REQUEST_IDS = Migration(
    version=17,
    description=REQUEST_IDS_DESCRIPTION,
    statements=REQUEST_IDS_STATEMENTS,  # request_schema.py
)

_REQUEST_MESSAGES = Migration(
    version=18,
    description=REQUEST_MESSAGES_DESCRIPTION,
    statements=REQUEST_MESSAGES_STATEMENTS,  # request_message_schema.py
)

MIGRATIONS: tuple[Migration, ...] = (
    _INITIAL_SCHEMA,
    _CHECKPOINTS,
    _API_KEY_DETAILS,
    _RESEARCH,
    _CHECKPOINT_OWNERS,
    _TOUCH_BY_TRIGGER,
    _LEAVES,
    _START_ORDER,
    _FINISH_REASONS,
    _BULK_IMPORTS,
    _REPORTED_USAGE,
    _JUDGEMENTS,
    _MERGES,
    _REPLAYS,
    _ARENA_VOTES,
    _SHARING,
    _REQUEST_IDS,
    _REQUEST_MESSAGES,
)
"""Every migration in order; `MIGRATIONS[i].version == i + 1`. Append only."""

LATEST_VERSION: int = MIGRATIONS[-1].version
"""The schema version this code writes and expects."""

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version      INTEGER PRIMARY KEY,
        applied_time TEXT NOT NULL
    )
"""


async def current_version(conn: aiosqlite.Connection) -> int:
    """Returns the highest schema version recorded in the database; 0 for a new database."""
    rows = list(
        await conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
    )
    if not rows:
        return 0
    rows = list(await conn.execute_fetchall("SELECT MAX(version) FROM schema_version"))
    return int(rows[0][0] or 0)


def _check_sequence(migrations: Sequence[Migration]) -> None:
    """Refuses a list with gaps or reordering, which would apply steps to the wrong schema."""
    for index, migration in enumerate(migrations):
        if migration.version != index + 1:
            raise ValueError(
                f"migration #{index} has version {migration.version}, expected {index + 1}"
            )


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Brings the database up to the last of `migrations`; returns the resulting version.

    `conn` must be in autocommit mode (`isolation_level=None`) and used by nobody else
    meanwhile. The version is read inside each step's write transaction, so two processes
    opening a new database at once do not both apply the same step: the second waits for
    the first (busy_timeout) and then sees the step done.

    Raises SchemaVersionError if the database is newer than the last migration.
    """
    _check_sequence(migrations)
    latest = len(migrations)
    while True:
        await conn.execute_fetchall("BEGIN IMMEDIATE")
        try:
            await conn.execute_fetchall(_CREATE_VERSION_TABLE)
            version = await current_version(conn)
            if version > latest:
                raise SchemaVersionError(
                    f"database schema version {version} is newer than this code's "
                    f"{latest}; upgrade Grove or use another database file"
                )
            if version == latest:
                await conn.execute_fetchall("COMMIT")
                return version
            step = migrations[version]
            for statement in step.statements:
                await conn.execute_fetchall(statement)
            await conn.execute_fetchall(
                "INSERT INTO schema_version (version, applied_time) VALUES (?, ?)",
                (step.version, datetime.now(UTC).isoformat(timespec="microseconds")),
            )
            await conn.execute_fetchall("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (e.g. after an I/O error).
            with suppress(sqlite3.OperationalError):
                await conn.execute_fetchall("ROLLBACK")
            raise
