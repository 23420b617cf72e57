"""Migration 5 of the PostgreSQL store: less database work per imported response.

Measured on a 60,000-response import (CPU of the server's PostgreSQL sessions, a fresh
database per run, three runs each): 3.65 s before, 2.99 s after, of which the search
index (trigger, function, index rows) is about 1.7 s of the 3.0. Two changes, neither
changing what is stored or found:

* `grove_search_document` turns every ASCII character but letters, digits and the space
  into a space (`WORD_SEPARATORS`) instead of every one including the space
  (`SEPARATORS`): PostgreSQL's parser splits at spaces anyway, and a run of spaces is one
  gap between words as the single space it used to become, so every text gets the same
  tsvector (words and positions; tests/server/test_postgres_import_speed.py compares them
  over thousands of texts) — without a replacement at every space, a quarter of the
  function's time. Documents indexed before stay valid: nothing is re-indexed.
* A conversation's `update_time` follows its new responses once per INSERT or COPY
  statement (a statement trigger over the statement's new rows: the latest create_time
  per conversation) instead of once per row: an import's 60,000 per-row calls, each
  looking its conversation up in `bulk_imports` to do nothing, cost a tenth of its
  database time. A single reply's insert is one statement either way, so the live path
  keeps its one UPDATE of the conversation row (the row the replicas' writes to one
  conversation queue on).

The migration is version 5 in `PG_MIGRATIONS` (schema.py).
"""

from __future__ import annotations

from grove_explorer.server.store.postgres.search_schema import (
    WORD_SEPARATORS,
    search_document_function,
)

IMPORT_SPEED_DESCRIPTION = (
    "search words cut without replacing spaces; update_time once per insert statement"
)

IMPORT_SPEED_STATEMENTS: tuple[str, ...] = (
    search_document_function("CREATE OR REPLACE", WORD_SEPARATORS),
    "DROP TRIGGER responses_touch_conversation ON responses",
    "DROP FUNCTION responses_touch_conversation()",
    # The latest create_time of the statement's new rows per conversation, unless the
    # conversation is being imported (the import sets its times once at the end).
    """
    CREATE FUNCTION responses_touch_conversations() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE conversations AS c SET update_time = n.latest
        FROM (SELECT conversation_id, max(create_time) AS latest
              FROM new_rows GROUP BY conversation_id) AS n
        WHERE c.conversation_id = n.conversation_id
          AND c.update_time < n.latest
          AND NOT EXISTS (SELECT 1 FROM bulk_imports AS b
                          WHERE b.conversation_id = n.conversation_id);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER responses_touch_conversations AFTER INSERT ON responses
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION responses_touch_conversations()
    """,
)
