"""The SQL of SQLite migration 17 and PostgreSQL migration 4: responses' request_id.

A resumable reply (AddResponseRequest.resumable) outlives its caller's connection; when its
replica dies after storing it, or its log's grace ends, only the store still has it. The
request id is a column of `responses` (written by the insert that stores the response, so
the start and the end of a stream cost no extra statement, issue 13's hot path) with an
index over the replies that have one, so ResumeResponse finds them on any replica.
migrations.py and postgres/schema.py name these as one step each.
"""

from __future__ import annotations

REQUEST_IDS_DESCRIPTION = "responses: the request id of the AddResponse that made them"

# The index holds only sampled replies that have an id: a human message is found as its
# reply's parent, so a stream's start (issue 13's time to first token) writes its id with
# the row and no index entry. A lookup repeats the index's condition, so the planner (and
# a prepared statement's generic plan) may use it.
_INDEX = (
    "CREATE INDEX responses_request ON responses (request_id)"
    " WHERE request_id <> '' AND sender = 'model'"
)

REQUEST_IDS_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE responses ADD COLUMN request_id TEXT NOT NULL DEFAULT ''",
    _INDEX,
)
"""SQLite migration 17 (never edited once released: append a migration)."""

PG_REQUEST_IDS_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE responses ADD COLUMN request_id text NOT NULL DEFAULT ''",
    _INDEX,
)
"""PostgreSQL migration 4, the same in PostgreSQL's types."""
