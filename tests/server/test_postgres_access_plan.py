"""The access check every shared call makes stays two primary-key lookups on PostgreSQL.

`Store.access` runs before almost every RPC, so its generic plan (what PostgreSQL uses
once psycopg has prepared the statement) must find the conversation and the share by
their primary keys, never scan either table, however many conversations and shares the
team server holds.
"""

from __future__ import annotations

from typing import Any

import psycopg

from grove_explorer.server.store.location import PostgresUrl
from grove_explorer.server.store.postgres import PostgresStore
from grove_explorer.server.store.postgres.conversations import _LIST
from grove_explorer.server.store.postgres.sharing import ACCESS_SQL


async def _generic_plan(url: PostgresUrl, sql: str, params: dict[str, Any]) -> str:
    async with await psycopg.AsyncConnection.connect(url.url) as conn:
        await conn.execute(sql, params, prepare=True)
        cursor = await conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%%shares%%'"
        )
        [(name,)] = await cursor.fetchall()
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        client = psycopg.AsyncClientCursor(conn)
        arguments = ", ".join(f"%({key})s" for key in params)
        await client.execute(f"EXPLAIN EXECUTE {name}({arguments})", params)
        plan = "\n".join(row[0] for row in await client.fetchall())
        await conn.rollback()
        return plan


async def _team_database(url: PostgresUrl) -> None:
    """5,000 conversations of 50 users; one in 25 shared with two others (a team's few)."""
    async with PostgresStore(url):
        pass  # the schema
    async with await psycopg.AsyncConnection.connect(url.url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO conversations (conversation_id, user_id, create_time, update_time)"
            " SELECT md5(i::text), 'u' || (i % 50), now(), now()"
            " FROM generate_series(1, 5000) AS i"
        )
        await conn.execute(
            "INSERT INTO shares (conversation_id, user_id, role, granted_by, create_time)"
            " SELECT md5(i::text), 'u' || ((i + k) % 50), 'reader', 'u' || (i % 50), now()"
            " FROM generate_series(1, 5000) AS i, generate_series(1, 2) AS k"
            " WHERE i % 25 = 0"
        )
        await conn.execute("ANALYZE conversations")
        await conn.execute("ANALYZE shares")


async def test_access_and_the_listing_use_their_indexes(postgres_url: PostgresUrl) -> None:
    await _team_database(postgres_url)
    plan = await _generic_plan(postgres_url, ACCESS_SQL, {"uid": "u7", "cid": "0" * 32})
    assert "conversations_pkey" in plan and "shares_pkey" in plan, plan
    assert "Seq Scan" not in plan, plan
    # The listing (once per session, not per call): the user's own conversations by
    # their index. How the few shared ones are joined is left to the planner.
    listing = await _generic_plan(postgres_url, _LIST, {"uid": "u7"})
    assert "conversations_user_update" in listing, listing
