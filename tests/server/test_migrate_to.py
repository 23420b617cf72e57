"""`grove db migrate-to postgresql://…` against a real PostgreSQL server.

The SQLite database is made through the store's API (replies with tokens, annotations,
places, judgements, votes, a checkpoint, keys); the copy is read back through the
PostgreSQL store where it has the reads, and table by table, column by column, against
the SQLite file for every table. A non-empty target is refused; a copy failing midway
leaves the target without a row.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from grove_explorer.app.cli import main
from grove_explorer.server.auth import hash_key
from grove_explorer.server.store import (
    AnnotationRecord,
    Checkpoint,
    NewResponse,
    SamplingRecord,
    SearchFilters,
    SqliteStore,
    Store,
)
from grove_explorer.server.store.arena_records import ArenaSetupRecord, NewVote
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.migrate_to import TABLES
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.rows import format_time
from tests.server.store_forests import ALICE, BOB, item, plant_orchard
from tests.server.test_store_contract_judgements import judged
from tests.server.test_store_contract_search import described

KEY = "grove_" + "k" * 43


async def fill(path: Path) -> None:
    """A SQLite database with something in every table, written through the store's API."""
    async with SqliteStore(path) as store:
        orchard = await plant_orchard(store)
        cid = orchard.journal.conversation_id
        question = await store.add_response(
            ALICE,
            NewResponse(
                conversation_id=cid,
                message="Which rootstock?",
                sender="human",
                parent_response_id=orchard.responses["plan"].response_id,
            ),
        )
        reply = await store.add_response(
            ALICE,
            NewResponse(
                conversation_id=cid,
                message="M9 dwarfs the tree",
                sender="model",
                parent_response_id=question.response_id,
                model_name="grove-offline-ngram",
                sampling=SamplingRecord(0.8, 0.95, 128, 2**63 + 11),
                token_count=4,
                finish_reason="stop",
                tokens=(("M9", -0.1, (("M7", -2.5),)), (" dwarfs", None, ())),
                start_time=store.reserve_start_time(),
            ),
        )
        await store.annotate(
            ALICE, cid, reply.response_id, AnnotationRecord(True, ("stock",), 1, "check it")
        )
        await store.set_leaf(ALICE, cid, reply.response_id)
        await store.add_judgements(ALICE, cid, [judged(reply.response_id, 6.5)])
        sibling = orchard.responses["cut"].response_id
        await store.add_vote(
            ALICE,
            cid,
            NewVote(
                orchard.responses["plan"].response_id,
                orchard.responses["advice"].response_id,
                sibling,
                ArenaSetupRecord(model_name="a", temperature=0.2),
                ArenaSetupRecord(model_name="b"),
                "tie",
            ),
        )
        running = NewResponse(
            conversation_id=cid,
            message="half a rep",
            sender="model",
            parent_response_id=question.response_id,
            partial=True,
        )
        await store.save_checkpoints([Checkpoint("ck1", ALICE, running)], owner="host:1:x")
        await store.create_api_key(ALICE, hash_key(KEY), hash_key(KEY)[:12], "laptop")
        await store.create_api_key(BOB, hash_key("grove_bob"), "bobkey000000")
        await store.revoke_api_key("bobkey000000")
        await store.update_conversation(ALICE, orchard.kitchen.conversation_id, "Bakery", True)
        await store.grant_access(ALICE, cid, BOB, "reader")


def normal(value: Any) -> Any:
    """A cell as both databases can agree on it: flags as 0/1, times as text, bytes."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def table_rows(path: Path, url: PostgresUrl, table: str) -> tuple[list[Any], list[Any]]:
    """Every row of `table` in SQLite and in PostgreSQL (SQLite's columns), sorted."""
    with sqlite3.connect(path) as lite:
        columns = [row[1] for row in lite.execute(f"PRAGMA table_info('{table}')")]
        select = f"SELECT {', '.join(columns)} FROM {table}"
        in_sqlite = [tuple(normal(v) for v in row) for row in lite.execute(select)]
    with psycopg.connect(url.url) as conn:
        in_postgres = [tuple(normal(v) for v in row) for row in conn.execute(select).fetchall()]
    return sorted(in_sqlite, key=repr), sorted(in_postgres, key=repr)


def migrate(source: Path, url: PostgresUrl, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["db", "migrate-to", url.url, "--db", str(source)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def pg_counts(url: PostgresUrl) -> dict[str, int]:
    with psycopg.connect(url.url) as conn:
        return {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            for name, _ in TABLES
        }


async def everything(store: Store, user: str) -> tuple[Any, ...]:
    """What the store's reads give of a user (those both stores have today)."""
    conversations = await store.list_conversations(user)
    responses = []
    for sender in ("human", "model"):
        hits = await store.search(user, None, SearchFilters(sender=sender), 10_000)
        responses += [hit.response for hit in hits]
    judgements = [await store.judgements(user, c.conversation_id) for c in conversations]
    found = await store.search(user, '"apple" OR "stock" OR "check"', SearchFilters(), 100)
    return (
        conversations,
        sorted(responses, key=lambda r: r.seq if r else 0),
        judgements,
        await store.votes(user),
        described(found),
    )


def test_a_sqlite_database_is_copied_whole_and_verified(
    tmp_path: Path, postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "grove.sqlite3"
    asyncio.run(fill(source))
    code, output = migrate(source, postgres_url, capsys)
    assert code == 0, output
    assert "rows per table, verified" in output
    assert "responses" in output and "search index" in output
    for table, _ in TABLES:
        in_sqlite, in_postgres = table_rows(source, postgres_url, table)
        assert in_sqlite, f"the test must fill {table}"
        assert in_postgres == in_sqlite, table

    async def compare() -> None:
        async with SqliteStore(source) as lite, PostgresStore(postgres_url) as pg:
            for user in (ALICE, BOB):
                assert await everything(pg, user) == await everything(lite, user)
            # New rows come after the copied ones.
            before = max(r.seq for r in (await everything(pg, ALICE))[1])
            moved = [item("n", None, "after the move")]
            _, (new,) = await pg.import_forest(ALICE, "after", False, moved)
            assert new.seq > before

    asyncio.run(compare())
    with psycopg.connect(postgres_url.url) as conn:
        row = conn.execute(
            "SELECT user_id, revoked FROM api_keys WHERE key_hash = %s", (hash_key(KEY),)
        ).fetchone()
    assert row == (ALICE, False), "the key keeps working against PostgreSQL"


def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    tmp_path: Path, postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "grove.sqlite3"
    asyncio.run(fill(source))
    assert migrate(source, postgres_url, capsys)[0] == 0
    counts = pg_counts(postgres_url)
    code, output = migrate(source, postgres_url, capsys)
    assert code == 1
    assert "is not empty: its users table holds rows" in output
    assert pg_counts(postgres_url) == counts
    with psycopg.connect(postgres_url.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("CREATE TABLE invoices (id int)")
    code, output = migrate(source, postgres_url, capsys)
    assert code == 1 and "tables that are not Grove's (invoices)" in output
    code, output = migrate(tmp_path / "missing.sqlite3", postgres_url, capsys)
    assert code == 1 and "There is no SQLite database at" in output
    gone = PostgresUrl(postgres_url.url.rsplit("/", 1)[0] + "/no_such_database")
    code, output = migrate(source, gone, capsys)
    assert code == 1 and "cannot be reached" in output and "no_such_database" in output


def test_a_copy_failing_midway_leaves_the_target_without_a_row(
    tmp_path: Path, postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "grove.sqlite3"
    asyncio.run(fill(source))
    with sqlite3.connect(source) as lite:  # foreign keys are off on a plain connection
        lite.execute(
            "INSERT INTO judgements (judgement_id, response_id, conversation_id, user_id,"
            " score, rationale, judge_model, rubric_name, rubric, mode, batch_id, heuristic,"
            " create_time) VALUES ('j', 'no-such-response', 'c', 'alice', 1, '', '', '', '',"
            " 'each', 'b', 0, '2026-01-01T00:00:00.000000+00:00')"
        )
    code, output = migrate(source, postgres_url, capsys)
    assert code == 1
    assert "rolled back" in output and "judgements" in output
    assert set(pg_counts(postgres_url).values()) == {0}
    with psycopg.connect(postgres_url.url) as conn:
        assert conn.execute("SELECT count(*) FROM search_rows").fetchone() == (0,)
    with sqlite3.connect(source) as lite:
        lite.execute("DELETE FROM judgements WHERE judgement_id = 'j'")
    code, output = migrate(source, postgres_url, capsys)
    assert code == 0, output
