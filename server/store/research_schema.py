"""The SQL of migration 4 (annotations, response tokens, the FTS5 search index).

migrations.py names it as one step; the statements live here so the list of every step
stays a small module (as arena_schema.py and sharing_schema.py).
"""

from __future__ import annotations

RESEARCH_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE responses ADD COLUMN prefix_length INTEGER NOT NULL DEFAULT 0",
    # One row per annotated response; its user is the conversation's user.
    """
        CREATE TABLE annotations (
            response_id TEXT PRIMARY KEY
                REFERENCES responses (response_id) ON DELETE CASCADE,
            user_id     TEXT NOT NULL,
            bookmarked  INTEGER NOT NULL DEFAULT 0 CHECK (bookmarked IN (0, 1)),
            tags        TEXT NOT NULL DEFAULT '[]',
            rating      INTEGER NOT NULL DEFAULT 0 CHECK (rating IN (-1, 0, 1)),
            note        TEXT NOT NULL DEFAULT '',
            update_time TEXT NOT NULL
        )
        """,
    # Sampled tokens with logprobs and alternatives: zlib-compressed JSON, written once.
    """
        CREATE TABLE response_tokens (
            response_id TEXT PRIMARY KEY
                REFERENCES responses (response_id) ON DELETE CASCADE,
            data        BLOB NOT NULL
        )
        """,
    # Search: one row per message, title, tag list and note. `search_rows` says what a
    # row is (indexed, so deletes find their rows directly); `search_text` holds the
    # text under the same rowid. Triggers keep both, so no write path can forget them.
    """
        CREATE TABLE search_rows (
            id              INTEGER PRIMARY KEY,
            kind            TEXT NOT NULL,
            ref_id          TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            user_id         TEXT NOT NULL
        )
        """,
    "CREATE INDEX search_rows_ref ON search_rows (ref_id, kind)",
    "CREATE INDEX search_rows_conversation ON search_rows (conversation_id)",
    """
        CREATE VIRTUAL TABLE search_text USING fts5(
            text, tokenize = 'unicode61 remove_diacritics 2'
        )
        """,
    """
        CREATE TRIGGER search_response_insert AFTER INSERT ON responses BEGIN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
            VALUES ('message', new.response_id, new.conversation_id, new.user_id);
            INSERT INTO search_text (rowid, text) VALUES (last_insert_rowid(), new.message);
        END
        """,
    """
        CREATE TRIGGER search_response_delete AFTER DELETE ON responses BEGIN
            DELETE FROM search_text WHERE rowid IN
                (SELECT id FROM search_rows WHERE ref_id = old.response_id);
            DELETE FROM search_rows WHERE ref_id = old.response_id;
        END
        """,
    """
        CREATE TRIGGER search_conversation_insert AFTER INSERT ON conversations BEGIN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
            VALUES ('title', new.conversation_id, new.conversation_id, new.user_id);
            INSERT INTO search_text (rowid, text) VALUES (last_insert_rowid(), new.title);
        END
        """,
    """
        CREATE TRIGGER search_conversation_title AFTER UPDATE OF title ON conversations
        BEGIN
            UPDATE search_text SET text = new.title WHERE rowid IN
                (SELECT id FROM search_rows
                 WHERE ref_id = new.conversation_id AND kind = 'title');
        END
        """,
    """
        CREATE TRIGGER search_conversation_delete AFTER DELETE ON conversations BEGIN
            DELETE FROM search_text WHERE rowid IN
                (SELECT id FROM search_rows WHERE conversation_id = old.conversation_id);
            DELETE FROM search_rows WHERE conversation_id = old.conversation_id;
        END
        """,
    """
        CREATE TRIGGER search_annotation_insert AFTER INSERT ON annotations BEGIN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
            SELECT 'tag', new.response_id, r.conversation_id, new.user_id
            FROM responses AS r WHERE r.response_id = new.response_id;
            INSERT INTO search_text (rowid, text) VALUES (
                last_insert_rowid(),
                coalesce((SELECT group_concat(value, ' ') FROM json_each(new.tags)), ''));
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
            SELECT 'note', new.response_id, r.conversation_id, new.user_id
            FROM responses AS r WHERE r.response_id = new.response_id;
            INSERT INTO search_text (rowid, text) VALUES (last_insert_rowid(), new.note);
        END
        """,
    """
        CREATE TRIGGER search_annotation_update AFTER UPDATE ON annotations BEGIN
            UPDATE search_text
            SET text = coalesce((SELECT group_concat(value, ' ') FROM json_each(new.tags)), '')
            WHERE rowid IN (SELECT id FROM search_rows
                            WHERE ref_id = new.response_id AND kind = 'tag');
            UPDATE search_text SET text = new.note
            WHERE rowid IN (SELECT id FROM search_rows
                            WHERE ref_id = new.response_id AND kind = 'note');
        END
        """,
    """
        CREATE TRIGGER search_annotation_delete AFTER DELETE ON annotations BEGIN
            DELETE FROM search_text WHERE rowid IN
                (SELECT id FROM search_rows
                 WHERE ref_id = old.response_id AND kind IN ('tag', 'note'));
            DELETE FROM search_rows
            WHERE ref_id = old.response_id AND kind IN ('tag', 'note');
        END
        """,
    # Rows written before this step.
    """
        INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
        SELECT 'title', conversation_id, conversation_id, user_id FROM conversations
        """,
    """
        INSERT INTO search_rows (kind, ref_id, conversation_id, user_id)
        SELECT 'message', response_id, conversation_id, user_id FROM responses ORDER BY seq
        """,
    """
        INSERT INTO search_text (rowid, text)
        SELECT s.id, coalesce(c.title, r.message)
        FROM search_rows AS s
        LEFT JOIN conversations AS c ON s.kind = 'title' AND c.conversation_id = s.ref_id
        LEFT JOIN responses AS r ON s.kind = 'message' AND r.response_id = s.ref_id
        """,
)
"""Migration 4's statements (never edited once released: append a migration)."""
