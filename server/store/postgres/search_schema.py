"""Migration 2 of the PostgreSQL store: the full-text search index (tsvector + GIN).

The same rows as the SQLite store's FTS5 index (server/store/migrations.py, version 4):
one `search_rows` row per message, conversation title, tag list and note, saying what it
is (kind, ref_id, conversation, user) and holding its words as a `tsvector` under a GIN
index. The texts themselves are not copied: a snippet reads them from their own tables.

Why triggers on the tables and not generated columns: a row's words must be searchable
whatever code path wrote it (a reply, an import, a migration, a colleague's replica), as
the SQLite store's triggers guarantee; a generated column would need an IMMUTABLE
expression, and `unaccent` is only STABLE (its rules file can change). Responses are
indexed by a statement-level trigger over the statement's new rows (a transition table):
a COPY of 60,000 imported responses is then indexed by one INSERT … SELECT after its
rows, with no per-row trigger call and no `bulk_imports` check for the index.

Words are cut as SQLite's `unicode61 remove_diacritics 2` tokenizer cuts them:
`unaccent` folds diacritics (é → e, and combining accents), every ASCII character that is
not a letter or a digit separates words (so `foo-bar`, `me@x.org` and `3.14` are words of
their parts, as in FTS5, not PostgreSQL's compound tokens), and the `simple` dictionary
lowercases without stemming or stop words. `grove_search_document` is the one function
that does this, used by the index and (through the query builder, search_query.py) by
every search, so a query's words are cut exactly as the stored ones.

PostgreSQL limits a tsvector to 1 MB. A message whose words would exceed it (far beyond
ordinary text: hundreds of thousands of distinct words) has its first half indexed, then
the half of that, until it fits — said here and in the README, not hidden: the message is
stored whole, only its tail is not searchable.
"""

from __future__ import annotations

SEPARATORS = r"[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+"
"""Every ASCII character but letters and digits: word separators, as in FTS5's unicode61."""
WORD_SEPARATORS = r"[\x01-\x1f\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+"
"""`SEPARATORS` but the space, which PostgreSQL's parser splits at anyway: the same words
at the same positions (a run of spaces is one gap, as the one space it was made into), and
no replacement at every space — a fifth of an import's search indexing (migration 5)."""

_SAFE_BYTES = 200_000
"""Texts shorter than this always fit a tsvector (at most ~4 bytes per byte of text)."""


def search_document_function(verb: str, separators: str) -> str:
    """The statement that makes `grove_search_document` (`verb`: CREATE, CREATE OR REPLACE).

    `separators`: the regular expression of the characters turned into spaces before
    PostgreSQL's parser cuts the words. Migration 2 made it with `SEPARATORS`; migration 5
    (import_speed_schema.py) remakes it with `WORD_SEPARATORS`, which cuts the same words
    for less work.
    """
    return f"""
    {verb} FUNCTION grove_search_document(body text) RETURNS tsvector
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
    BEGIN
        IF octet_length(body) < {_SAFE_BYTES} THEN
            RETURN to_tsvector('grove_search',
                regexp_replace(unaccent(body), '{separators}', ' ', 'g'));
        END IF;
        BEGIN
            RETURN to_tsvector('grove_search',
                regexp_replace(unaccent(body), '{separators}', ' ', 'g'));
        EXCEPTION WHEN program_limit_exceeded THEN
            -- Over a tsvector's 1 MB: index the first half (see search_schema.py).
            RETURN grove_search_document(left(body, length(body) / 2));
        END;
    END $$
    """


SEARCH_DESCRIPTION = "full-text search: search_rows with a tsvector under GIN, kept by triggers"

SEARCH_STATEMENTS: tuple[str, ...] = (
    # unaccent is a trusted extension since PostgreSQL 13: the database's owner may
    # create it. If it cannot be, say so and what to do, not PostgreSQL's bare error.
    """
    DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = 'GRV01', MESSAGE = format(
            'Grove''s search needs PostgreSQL''s unaccent extension, which could not '
            'be created in database %s (%s). Install it (Debian: apt-get install '
            'postgresql-contrib; it ships with the postgresql package) or have a '
            'superuser run CREATE EXTENSION unaccent in that database, then start '
            'Grove again.', current_database(), SQLERRM);
    END $$
    """,
    "CREATE TEXT SEARCH CONFIGURATION grove_search (COPY = pg_catalog.simple)",
    # Snippets (ts_headline) parse the original text: its words fold as the index's.
    """
    ALTER TEXT SEARCH CONFIGURATION grove_search
        ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple
    """,
    search_document_function("CREATE", SEPARATORS),
    """
    CREATE FUNCTION grove_tags_text(tags text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(string_agg(value, ' '), '') FROM json_array_elements_text(tags::json)
    $$
    """,
    """
    CREATE TABLE search_rows (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind            text NOT NULL,
        ref_id          text NOT NULL,
        conversation_id text NOT NULL,
        user_id         text NOT NULL,
        document        tsvector NOT NULL
    )
    """,
    "CREATE INDEX search_rows_ref ON search_rows (ref_id, kind)",
    "CREATE INDEX search_rows_conversation ON search_rows (conversation_id)",
    "CREATE INDEX search_rows_user ON search_rows (user_id)",
    "CREATE INDEX search_rows_document ON search_rows USING gin (document)",
    # -- responses: one statement's new rows at a time (imports: one COPY each) -----
    """
    CREATE FUNCTION search_responses_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
        SELECT 'message', response_id, conversation_id, user_id,
               grove_search_document(message)
        FROM new_rows ORDER BY seq;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER search_responses_insert AFTER INSERT ON responses
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_responses_insert()
    """,
    """
    CREATE FUNCTION search_responses_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM search_rows AS s USING old_rows AS o WHERE s.ref_id = o.response_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER search_responses_delete AFTER DELETE ON responses
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_responses_delete()
    """,
    # -- conversations: the title ------------------------------------------------------
    """
    CREATE FUNCTION search_conversation_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
            VALUES ('title', NEW.conversation_id, NEW.conversation_id, NEW.user_id,
                    grove_search_document(NEW.title));
        ELSIF TG_OP = 'UPDATE' THEN
            UPDATE search_rows SET document = grove_search_document(NEW.title)
            WHERE ref_id = NEW.conversation_id AND kind = 'title';
        ELSE
            DELETE FROM search_rows WHERE conversation_id = OLD.conversation_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER search_conversation_insert AFTER INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION search_conversation_change()
    """,
    """
    CREATE TRIGGER search_conversation_title AFTER UPDATE OF title ON conversations
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION search_conversation_change()
    """,
    """
    CREATE TRIGGER search_conversation_delete AFTER DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION search_conversation_change()
    """,
    # -- annotations: a tag row and a note row per annotated response -----------------
    """
    CREATE FUNCTION search_annotation_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
            SELECT kind, NEW.response_id, r.conversation_id, NEW.user_id,
                   grove_search_document(body)
            FROM responses AS r,
                 (VALUES (1, 'tag', grove_tags_text(NEW.tags)), (2, 'note', NEW.note))
                     AS texts (position, kind, body)
            WHERE r.response_id = NEW.response_id
            ORDER BY position;
        ELSIF TG_OP = 'UPDATE' THEN
            UPDATE search_rows
            SET document = grove_search_document(
                CASE kind WHEN 'tag' THEN grove_tags_text(NEW.tags) ELSE NEW.note END)
            WHERE ref_id = NEW.response_id AND kind IN ('tag', 'note');
        ELSE
            DELETE FROM search_rows
            WHERE ref_id = OLD.response_id AND kind IN ('tag', 'note');
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER search_annotation_change AFTER INSERT OR UPDATE OR DELETE
    ON annotations FOR EACH ROW EXECUTE FUNCTION search_annotation_change()
    """,
    # Rows written before this step: titles, then messages, then annotations.
    """
    INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
    SELECT 'title', conversation_id, conversation_id, user_id, grove_search_document(title)
    FROM conversations ORDER BY seq
    """,
    """
    INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
    SELECT 'message', response_id, conversation_id, user_id, grove_search_document(message)
    FROM responses ORDER BY seq
    """,
    """
    INSERT INTO search_rows (kind, ref_id, conversation_id, user_id, document)
    SELECT texts.kind, a.response_id, r.conversation_id, a.user_id,
           grove_search_document(texts.body)
    FROM annotations AS a JOIN responses AS r ON r.response_id = a.response_id,
         LATERAL (VALUES (1, 'tag', grove_tags_text(a.tags)), (2, 'note', a.note))
             AS texts (position, kind, body)
    ORDER BY r.seq, texts.position
    """,
)
