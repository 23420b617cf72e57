"""The SQL of migration 16 (shares between users, the author of a response).

migrations.py names it as one step; the statements live here so the list of every step
stays a small module. The PostgreSQL store's migration 3 (postgres/schema.py) creates the
same table in its own types.
"""

from __future__ import annotations

SHARING_DESCRIPTION = "shares: a conversation shared with another user; responses' author"

SHARING_STATEMENTS: tuple[str, ...] = (
    # One row per user a conversation is shared with. The owner is the conversation's
    # user_id and never has a row; deleting the conversation deletes its shares.
    """
    CREATE TABLE shares (
        conversation_id TEXT NOT NULL
            REFERENCES conversations (conversation_id) ON DELETE CASCADE,
        user_id         TEXT NOT NULL,
        role            TEXT NOT NULL CHECK (role IN ('reader', 'writer')),
        granted_by      TEXT NOT NULL,
        create_time     TEXT NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
    ) WITHOUT ROWID
    """,
    # "What is shared with me" (the conversation list, search's scope) by one index range.
    "CREATE INDEX shares_user ON shares (user_id, conversation_id)",
    # Who made a response when it was not the owner (a writer it is shared with); '' for
    # the owner, and for every response stored before.
    "ALTER TABLE responses ADD COLUMN author TEXT NOT NULL DEFAULT ''",
)
"""Creates shares and responses.author (never edited once released: append a migration)."""
