"""What only the PostgreSQL store's imports have: COPY'd token blobs, the bulk_imports mark.

The import behaviour shared with the SQLite store is tested on both stores in
test_store_contract_imports.py.
"""

from __future__ import annotations

import psycopg
import pytest

from grove_explorer.server.store import ImportStream, SearchFilters, UnknownParentError
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.rows import decode_tokens
from tests.server.store_forests import ALICE, item
from tests.server.test_postgres_search import index_problems
from tests.server.test_store_contract_imports import batches, chain, full_item


async def test_tokens_are_stored_and_the_bulk_mark_is_gone_after_an_import(
    postgres_url: PostgresUrl,
) -> None:
    async with PostgresStore(postgres_url) as store:
        record, (question, reply) = await store.import_forest(
            ALICE, "t", False, [item("q", None, "question"), full_item("a", "q")]
        )
        with pytest.raises(UnknownParentError):
            await store.import_conversation(ALICE, "bad", False, [item("x", "y", "orphan")])
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        rows = conn.execute("SELECT response_id, data FROM response_tokens").fetchall()
        assert [(rid, decode_tokens(bytes(data))) for rid, data in rows] == [
            (reply.response_id, [("re", -0.5, (("ra", -1.25),)), ("ply", None, ())])
        ]
        assert conn.execute("SELECT count(*) FROM bulk_imports").fetchone() == (0,)
        # A later insert into the imported conversation runs the update_time trigger again.
        conn.execute(
            "INSERT INTO responses (response_id, conversation_id, user_id, message, sender,"
            " create_time, start_time) VALUES ('late', %s, %s, 'late', 'human',"
            " now() + interval '1 hour', now())",
            (record.conversation_id, ALICE),
        )
        (update_time,) = conn.execute(
            "SELECT update_time FROM conversations WHERE conversation_id = %s",
            (record.conversation_id,),
        ).fetchone() or (None,)
    assert update_time is not None and update_time > record.update_time
    assert question.create_time < reply.create_time <= record.update_time


async def test_every_batch_of_a_streamed_import_is_in_the_search_index(
    postgres_url: PostgresUrl,
) -> None:
    # Each batch's COPY is indexed by the statement trigger while the next is built.
    items = chain(2_100)
    async with PostgresStore(postgres_url) as store:
        stream = ImportStream(len(items), batches(items, [1, 999, 1_000]))
        record = await store.import_conversation(ALICE, "Streamed", False, stream)
        assert record.response_count == 2_100
        assert await store.count_search(ALICE, '"lantern"', SearchFilters()) == 2_100
    assert index_problems(postgres_url) == []
