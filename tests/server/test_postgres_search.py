"""What only the PostgreSQL store's search has: its index table, the unaccent extension,
migration 2 over older rows, and texts beyond a tsvector's 1 MB.

The search behaviour shared with the SQLite store is tested on both stores in
test_store_contract_search.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from grove_explorer.server.store import SearchFilters
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.migrations import SchemaVersionError
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.postgres.schema import PG_MIGRATIONS, migrate
from tests.server.store_forests import ALICE, item, plant_orchard

EXPECTED_ROWS = """
    SELECT 'title', conversation_id, conversation_id, user_id, title FROM conversations
    UNION ALL
    SELECT 'message', response_id, conversation_id, user_id, message FROM responses
    UNION ALL
    SELECT 'tag', a.response_id, r.conversation_id, a.user_id, grove_tags_text(a.tags)
    FROM annotations AS a JOIN responses AS r USING (response_id)
    UNION ALL
    SELECT 'note', a.response_id, r.conversation_id, a.user_id, a.note
    FROM annotations AS a JOIN responses AS r USING (response_id)
"""


def index_problems(url: PostgresUrl) -> list[str]:
    """How search_rows differs from what the tables say it must hold ([] if nothing)."""
    with psycopg.connect(url.url) as conn:
        missing = conn.execute(
            f"SELECT e.* FROM ({EXPECTED_ROWS}) AS e (kind, ref_id, cid, uid, body)"
            " WHERE NOT EXISTS (SELECT 1 FROM search_rows AS s WHERE s.kind = e.kind"
            " AND s.ref_id = e.ref_id AND s.conversation_id = e.cid AND s.user_id = e.uid"
            " AND s.document = grove_search_document(e.body))"
        ).fetchall()
        (stored,) = conn.execute("SELECT count(*) FROM search_rows").fetchone() or (0,)
        (expected,) = conn.execute(f"SELECT count(*) FROM ({EXPECTED_ROWS}) AS e").fetchone() or (
            0,
        )
    problems = [f"no index row for {row[:2]}" for row in missing]
    if stored != expected:
        problems.append(f"{stored} index rows for {expected} texts")
    return problems


async def test_the_index_follows_imports_renames_and_deletes(postgres_url: PostgresUrl) -> None:
    async with PostgresStore(postgres_url) as store:
        orchard = await plant_orchard(store)
        assert index_problems(postgres_url) == []
        await store.update_conversation(ALICE, orchard.kitchen.conversation_id, "Bakery", True)
        assert index_problems(postgres_url) == []
        # Annotations changed and removed by any writer (the store's annotate, a replica).
        cafe = orchard.responses["cafe"].response_id
        with psycopg.connect(postgres_url.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE annotations SET tags = '[\"espresso\"]', note = 'ristretto'"
                " WHERE response_id = %s",
                (cafe,),
            )
            assert index_problems(postgres_url) == []
            (tag,) = await store.search(ALICE, '"espresso"', SearchFilters(), 10)
            assert tag.field == "tag" and tag.snippet == "espresso"
            assert await store.count_search(ALICE, '"grafting"', SearchFilters()) == 1
            conn.execute("DELETE FROM annotations WHERE response_id = %s", (cafe,))
            assert index_problems(postgres_url) == []
            assert await store.count_search(ALICE, '"ristretto"', SearchFilters()) == 0
        assert await store.delete_conversation(ALICE, orchard.journal.conversation_id)
        assert index_problems(postgres_url) == []
        with psycopg.connect(postgres_url.url) as conn:
            kinds = conn.execute(
                "SELECT kind, count(*) FROM search_rows WHERE user_id = %s GROUP BY kind",
                (ALICE,),
            ).fetchall()
        assert dict(kinds) == {"title": 1, "message": 2}
        assert await store.count_search(ALICE, '"pear"', SearchFilters()) == 0


async def test_migration_2_indexes_what_version_1_holds(postgres_url: PostgresUrl) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_url.url, autocommit=True) as conn:
        await migrate(conn, PG_MIGRATIONS[:1])
        await conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, title, create_time,"
            " update_time) VALUES ('c1', 'alice', 'Old notes', now(), now())"
        )
        await conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, message, sender,"
            " create_time, start_time) VALUES ('r1', 'c1', 'alice', 'Über quinces', 'human',"
            " now(), now())"
        )
        await conn.execute(
            "INSERT INTO annotations (response_id, user_id, tags, note, update_time)"
            " VALUES ('r1', 'alice', '[\"fruit\"]', 'ripe in autumn', now())"
        )
    async with PostgresStore(postgres_url) as store:
        assert index_problems(postgres_url) == []
        for query, field in (('"uber"', "message"), ('"fruit"', "tag"), ('"autumn"', "note")):
            (hit,) = await store.search(ALICE, query, SearchFilters(), 10)
            assert hit.field == field and hit.response is not None
            assert hit.response.response_id == "r1"
        (title,) = await store.search(ALICE, '"notes"', SearchFilters(), 10)
        assert (title.field, title.conversation_title) == ("title", "Old notes")


async def test_a_text_beyond_a_tsvectors_limit_is_stored_whole_and_its_start_found(
    postgres_url: PostgresUrl,
) -> None:
    # 90,000 distinct words: their tsvector would be ~1.4 MB, over PostgreSQL's 1 MB.
    words = [f"w{i:07d}" for i in range(90_000)]
    message = " ".join(words)
    async with PostgresStore(postgres_url) as store:
        _, (stored,) = await store.import_forest(ALICE, "big", False, [item("b", None, message)])
        assert stored.message == message
        (hit,) = await store.search(ALICE, f'"{words[0]}"', SearchFilters(), 10)
        assert hit.response is not None and hit.response.response_id == stored.response_id
        assert hit.highlights
        assert await store.count_search(ALICE, f'"{words[-1]}"', SearchFilters()) == 0


async def test_a_database_where_unaccent_cannot_be_created_is_refused_with_what_to_do(
    postgres_url: PostgresUrl,
) -> None:
    # A role that may create tables in its own schema but nothing in the database.
    database = postgres_url.database
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        conn.execute("CREATE ROLE weakling LOGIN")
        conn.execute("CREATE SCHEMA weakling AUTHORIZATION weakling")
        conn.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
    parts = urlsplit(postgres_url.url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    weak = PostgresUrl(urlunsplit((parts.scheme, f"weakling@{host}", parts.path, "", "")))
    store = PostgresStore(weak)
    with pytest.raises(SchemaVersionError, match="unaccent extension") as refused:
        await store.open()
    assert "CREATE EXTENSION unaccent" in str(refused.value)
    assert database in str(refused.value)
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        conn.execute("DROP OWNED BY weakling")
        conn.execute("DROP ROLE weakling")
