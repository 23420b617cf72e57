"""Migration 5 of the PostgreSQL store (import_speed_schema.py) changes nothing anyone sees.

It is applied to a database at the versions before it: every text is then cut into the
same words at the same positions as before (so documents indexed before stay valid and a
query finds the same rows), and a conversation's `update_time` follows its new responses
as the per-row trigger made it, imports included.
"""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg

from grove_explorer.server.store import ImportStream, NewResponse, SearchFilters
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.postgres.schema import (
    IMPORT_SPEED,
    LATEST_PG_VERSION,
    PG_MIGRATIONS,
    migrate,
)
from grove_explorer.server.store.postgres.search_schema import SEPARATORS, WORD_SEPARATORS
from tests.server.store_forests import ALICE
from tests.server.test_postgres_search import index_problems
from tests.server.test_store_contract_import_search import TEXTS
from tests.server.test_store_contract_imports import batches, chain

WORDS = ["apple", "foo-bar", "me@x.org", "3.14", "http://x.y/z?a=1", "C++", "a_b", "x--y"]
WORDS += ["'quoted'", "ünïcödé", "can't", "1,000", "/usr/bin", "<tag>", "v1.2.3-rc1", "日本語"]
SPACES = [" ", "  ", ", ", " - ", "\t", "\n", "...", "", " \u00a0 ", "\u3000"]
LETTERS = [chr(c) for c in range(1, 128)] + list("éÀöß\u0301\u0308日本🍎Ａａ１ﬁ—…«»\u00a0\u200b")


def varied_texts(count: int, seed: int = 6) -> list[str]:
    """Texts of every kind of separator run: random characters, and words between gaps."""
    chooser = random.Random(seed)
    texts = [text for _, text in TEXTS]
    while len(texts) < count:
        if len(texts) % 2:
            size = chooser.randint(0, 80)
            texts.append("".join(chooser.choice(LETTERS) for _ in range(size)))
        else:
            words = [chooser.choice(WORDS) for _ in range(chooser.randint(1, 12))]
            texts.append("".join(word + chooser.choice(SPACES) for word in words))
    return texts


async def migrate_to(url: PostgresUrl, version: int) -> None:
    """Brings the database to `version` with the store's own migrations."""
    async with await psycopg.AsyncConnection.connect(url.url, autocommit=True) as conn:
        assert await migrate(conn, PG_MIGRATIONS[:version]) == version


def test_it_is_the_fifth_version() -> None:
    assert IMPORT_SPEED.version == 5 == PG_MIGRATIONS[4].version <= LATEST_PG_VERSION


async def test_every_text_is_cut_into_the_same_words_after_it(postgres_url: PostgresUrl) -> None:
    await migrate_to(postgres_url, IMPORT_SPEED.version - 1)  # the versions before
    texts = varied_texts(4_000)
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE texts (id integer, body text, before tsvector)")
        with conn.cursor().copy("COPY texts (id, body) FROM STDIN") as copy:
            for number, text in enumerate(texts):
                copy.write_row((number, text.replace("\x00", "")))
        conn.execute("UPDATE texts SET before = grove_search_document(body)")
        (source,) = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'grove_search_document'"
        ).fetchone() or ("",)
        assert SEPARATORS in source, "the function before: every separator with the space"
    await migrate_to(postgres_url, IMPORT_SPEED.version)
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        (source,) = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'grove_search_document'"
        ).fetchone() or ("",)
        assert WORD_SEPARATORS in source, "the function after: spaces left alone"
        differing = conn.execute(
            "SELECT body, before::text, grove_search_document(body)::text FROM texts"
            " WHERE grove_search_document(body) IS DISTINCT FROM before"
        ).fetchall()
        (words,) = conn.execute(
            "SELECT count(*) FROM texts WHERE length(before) > 0"
        ).fetchone() or (0,)
    assert differing == []
    assert words > len(texts) * 0.9, "the texts must have words to compare"


async def test_update_time_follows_new_responses_as_before(postgres_url: PostgresUrl) -> None:
    async with PostgresStore(postgres_url) as store:  # migrated to the latest version
        talk = await store.create_conversation(ALICE, "talk")
        first = await store.add_response(
            ALICE,
            NewResponse(
                conversation_id=talk.conversation_id,
                message="hello",
                sender="human",
                parent_response_id=None,
            ),
        )
        read = await store.get_conversation(ALICE, talk.conversation_id)
        assert read is not None and read.update_time == first.create_time
        # An import sets its conversation's times once, with every batch indexed.
        items = chain(2_100)
        stream = ImportStream(len(items), batches(items, [1, 999, 1_000]))
        imported, responses = await store.import_forest(ALICE, "Imported", False, stream)
        assert imported.update_time == responses[-1].create_time
        assert await store.count_search(ALICE, '"lantern"', SearchFilters()) == 2_100
        assert index_problems(postgres_url) == []
        # One statement of rows in two conversations: each to its own latest time; an
        # older row moves nothing back; the imported conversation is no longer skipped.
        hour = timedelta(hours=1)
        base = max(read.update_time, imported.update_time)
        with psycopg.connect(postgres_url.url, autocommit=True) as conn:
            (bulk,) = conn.execute("SELECT count(*) FROM bulk_imports").fetchone() or (1,)
            assert bulk == 0
            conn.execute(
                "INSERT INTO responses (response_id, conversation_id, user_id, message,"
                " sender, create_time, start_time) VALUES"
                " ('a1', %(talk)s, %(uid)s, 'one', 'human', %(one)s, %(one)s),"
                " ('b1', %(imported)s, %(uid)s, 'two', 'human', %(two)s, %(two)s),"
                " ('a2', %(talk)s, %(uid)s, 'three', 'human', %(half)s, %(half)s),"
                " ('a3', %(talk)s, %(uid)s, 'old', 'human', %(old)s, %(old)s)",
                {
                    "talk": talk.conversation_id,
                    "imported": imported.conversation_id,
                    "uid": ALICE,
                    "one": base + hour,
                    "two": base + 2 * hour,
                    "half": base + hour / 2,
                    "old": base - 24 * hour,
                },
            )
        talked = await store.get_conversation(ALICE, talk.conversation_id)
        again = await store.get_conversation(ALICE, imported.conversation_id)
        assert talked is not None and talked.update_time == base + hour
        assert again is not None and again.update_time == base + 2 * hour
        assert index_problems(postgres_url) == []
