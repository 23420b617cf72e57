"""The SQL of migration 15 (arena_votes), kept beside the arena's records.

migrations.py names it as one step; the statements live here so the list of every step
stays a small module.
"""

from __future__ import annotations

ARENA_VOTES_STATEMENTS: tuple[str, ...] = (
    # One row per vote. Its user is the conversation's user (as for judgements); the
    # setups are JSON (read with the vote, never queried by field). Deleting the
    # conversation, or either reply, deletes the vote.
    """
    CREATE TABLE arena_votes (
        vote_id            TEXT PRIMARY KEY,
        user_id            TEXT NOT NULL,
        conversation_id    TEXT NOT NULL
            REFERENCES conversations (conversation_id) ON DELETE CASCADE,
        parent_response_id TEXT NOT NULL,
        response_a         TEXT NOT NULL
            REFERENCES responses (response_id) ON DELETE CASCADE,
        response_b         TEXT NOT NULL
            REFERENCES responses (response_id) ON DELETE CASCADE,
        setup_a            TEXT NOT NULL,
        setup_b            TEXT NOT NULL,
        outcome            TEXT NOT NULL CHECK (outcome IN ('a', 'b', 'tie', 'both_bad')),
        create_time        TEXT NOT NULL
    )
    """,
    "CREATE INDEX arena_votes_user ON arena_votes (user_id, conversation_id)",
    "CREATE INDEX arena_votes_conversation ON arena_votes (conversation_id)",
    "CREATE INDEX arena_votes_response_a ON arena_votes (response_a)",
    "CREATE INDEX arena_votes_response_b ON arena_votes (response_b)",
)
"""Creates arena_votes and its indexes (never edited once released: append a migration)."""
