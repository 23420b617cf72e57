"""The SQL of SQLite migration 18 and PostgreSQL migration 6: human messages' request ids.

A caller may resume its reply on a replica that never heard the reply start (it started
after the reply, or its index of replies elsewhere forgot it): that replica finds the
conversation from the human message the same AddResponse stored, then follows the reply
on the change feed (server/servicer/feed_replies.py). Migration 17's index covers only
sampled replies (a stream's start writes no index entry, issue 13's hot path); this one
covers human messages, written once per request with a message, and a lookup repeats its
condition so the planner (and a prepared statement's generic plan) may use it.
migrations.py and postgres/schema.py name these as one step each.
"""

from __future__ import annotations

REQUEST_MESSAGES_DESCRIPTION = "responses: an index of human messages by request id"

_INDEX = (
    "CREATE INDEX responses_request_message ON responses (request_id)"
    " WHERE request_id <> '' AND sender = 'human'"
)

REQUEST_MESSAGES_STATEMENTS: tuple[str, ...] = (_INDEX,)
"""SQLite migration 18 (never edited once released: append a migration)."""

PG_REQUEST_MESSAGES_STATEMENTS: tuple[str, ...] = (_INDEX,)
"""PostgreSQL migration 6, the same statement."""
