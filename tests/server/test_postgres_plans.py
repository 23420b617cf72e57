"""The PostgreSQL store's hot statements keep their index under a prepared (generic) plan.

psycopg prepares a statement once it has run a few times on a connection, and PostgreSQL
then may use a generic plan that knows no parameter values. A parent looked up by
`response_id = $1 AND conversation_id = $2` was then found by walking the conversation's
index until the parent came up — cheap for an old parent, slow for a recent one, which is
every reply's. These tests read the generic plans (EXPLAIN EXECUTE of the prepared
statement under plan_cache_mode=force_generic_plan): the parent of an insert, every step
of a path and the per-call reads of one response are found by the unique index of
response ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from grove_explorer.server.store import NewResponse
from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.postgres.responses import (
    _GET_RESPONSE,
    _IN_CONVERSATION,
    _INSERT_RESPONSE,
    _PATH_TO,
    _REQUEST_RESPONSES,
    _RESPONSE_TOKENS,
)
from grove_explorer.server.store.rows import content_values_pg

ALICE = "alice"


async def generic_plan(url: PostgresUrl, sql: str, params: Any) -> str:
    """The generic plan PostgreSQL uses for `sql` once psycopg has prepared it."""
    async with await psycopg.AsyncConnection.connect(url.url) as conn:
        await conn.execute(sql, params, prepare=True)
        cursor = await conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%%responses%%'"
        )
        [(name,)] = await cursor.fetchall()
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        client = psycopg.AsyncClientCursor(conn)
        if isinstance(params, dict):
            arguments = ", ".join(f"%({key})s" for key in params)
        else:
            arguments = ", ".join("%s" for _ in params)
        await client.execute(f"EXPLAIN EXECUTE {name}({arguments})", params)
        plan = "\n".join(row[0] for row in await client.fetchall())
        await conn.rollback()
        return plan


async def chain(url: PostgresUrl, depth: int) -> tuple[str, list[str]]:
    async with PostgresStore(url) as store:
        cid = (await store.create_conversation(ALICE)).conversation_id
        ids: list[str] = []
        for i in range(depth):
            parent = ids[-1] if ids else None
            record = await store.add_response(ALICE, NewResponse(cid, f"m{i}", "human", parent))
            ids.append(record.response_id)
        return cid, ids


async def test_an_inserts_parent_is_found_by_its_unique_id(postgres_url: PostgresUrl) -> None:
    cid, ids = await chain(postgres_url, 200)
    new = NewResponse(cid, "reply", "model", ids[-1])
    now = datetime.now(UTC)
    params = (
        cid,
        ALICE,
        ALICE,
        uuid.uuid4().hex,
        now,
        now,
        *content_values_pg(new),
        ids[-1],
        ids[-1],
        cid,
    )
    plan = await generic_plan(postgres_url, _INSERT_RESPONSE, params)
    assert "responses_response_id_key" in plan, plan
    assert "responses_conversation" not in plan, plan


async def test_every_step_of_a_path_is_found_by_its_unique_id(postgres_url: PostgresUrl) -> None:
    cid, ids = await chain(postgres_url, 200)
    params = {"response_id": ids[-1], "conversation_id": cid, "user_id": ALICE}
    plan = await generic_plan(postgres_url, _PATH_TO, params)
    assert plan.count("responses_response_id_key") == 2, plan  # the start and each step
    assert "responses_conversation" not in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize(
    "sql", [_GET_RESPONSE, _IN_CONVERSATION, _RESPONSE_TOKENS], ids=["get", "in", "tokens"]
)
async def test_one_response_is_found_by_its_unique_id(postgres_url: PostgresUrl, sql: str) -> None:
    cid, ids = await chain(postgres_url, 200)
    plan = await generic_plan(postgres_url, sql, (ids[-1], cid, ALICE))
    assert "responses_response_id_key" in plan, plan
    assert "responses_conversation" not in plan and "Seq Scan on responses" not in plan, plan


async def test_a_requests_reply_is_found_by_the_request_index(postgres_url: PostgresUrl) -> None:
    cid, ids = await chain(postgres_url, 200)
    async with PostgresStore(postgres_url) as store:
        for i, parent in enumerate(ids):  # a reply with its request id under every message
            await store.add_response(
                ALICE, NewResponse(cid, "reply", "model", parent, request_id=f"req-{i}")
            )
    plan = await generic_plan(postgres_url, _REQUEST_RESPONSES, ("req-7", ALICE, ALICE, "req-7"))
    assert "responses_request" in plan, plan
    assert "Seq Scan on responses" not in plan, plan
