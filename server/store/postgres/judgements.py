"""The judgements table of the PostgreSQL store: judge models' scores of replies.

The SQLite store's judgements (server/store/sqlite/judgements.py) on PostgreSQL: the same
rows and records (`judgement_row` and `read_judgement` are shared; times go as ISO text,
which PostgreSQL reads into timestamptz), a batch of one judge
call written in one transaction, so a failing batch leaves nothing behind. Seeds are
stored signed as in SQLite (a bigint holds what an SQLite integer holds).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from grove_explorer.server.store.postgres.connection import PostgresDatabase, require_owned
from grove_explorer.server.store.protocol import UnknownParentError
from grove_explorer.server.store.records import JudgementRecord, NewJudgement
from grove_explorer.server.store.rows import format_time
from grove_explorer.server.store.sqlite.judgements import (
    JUDGEMENT_COLUMNS,
    judgement_row,
    read_judgement,
)

JUDGEMENT_INSERT = (
    f"INSERT INTO judgements ({', '.join(JUDGEMENT_COLUMNS)})"
    f" VALUES ({', '.join('%s' for _ in JUDGEMENT_COLUMNS)})"
)

_SELECT = (
    "SELECT judgement_id, response_id, score, rationale, judge_model, rubric_name, rubric,"
    " temperature, top_p, max_tokens, seed, mode, batch_id, heuristic, create_time, user_id"
    " FROM judgements"
)


def pg_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A `judgement_row` for PostgreSQL: the heuristic flag as a boolean."""
    values = list(row)
    heuristic = JUDGEMENT_COLUMNS.index("heuristic")
    values[heuristic] = bool(values[heuristic])
    return tuple(values)


class JudgementQueries(PostgresDatabase):
    """Judgements of replies, one row per score, written a batch per transaction."""

    async def add_judgements(
        self,
        user_id: str,
        conversation_id: str,
        judgements: Sequence[NewJudgement],
        *,
        author: str = "",
    ) -> list[JudgementRecord]:
        """Stores one judge call's judgements (a new batch) in one transaction, in order.

        `user_id` owns the conversation (the check); the rows are `author`'s, who asked
        for the judge call ("": the owner).

        Raises UnknownConversationError when the conversation is not the user's, and
        UnknownParentError when a judged response is not in it; nothing is stored then.
        """
        if not judgements:
            return []
        batch_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            await require_owned(conn, user_id, conversation_id)
            wanted = sorted({j.response_id for j in judgements})
            cursor = await conn.execute(
                "SELECT response_id FROM responses WHERE conversation_id = %s"
                " AND response_id = ANY(%s)",
                (conversation_id, wanted),
            )
            found = {row[0] for row in await cursor.fetchall()}
            missing = [r for r in wanted if r not in found]
            if missing:
                raise UnknownParentError(missing[0])
            created = self._tick()
            records: list[JudgementRecord] = []
            rows: list[tuple[Any, ...]] = []
            for judgement in judgements:
                judgement_id = uuid.uuid4().hex
                row = judgement_row(
                    judgement,
                    judgement_id=judgement_id,
                    response_id=judgement.response_id,
                    conversation_id=conversation_id,
                    user_id=author or user_id,
                    batch_id=batch_id,
                    create_time=format_time(created),
                )
                rows.append(pg_row(row))
                stored = replace(judgement, create_time=created, batch_id=batch_id)
                asked_by = author or user_id
                records.append(JudgementRecord(judgement_id, batch_id, created, stored, asked_by))
            async with conn.cursor() as many:
                await many.executemany(JUDGEMENT_INSERT, rows)
        return records

    async def judgements(
        self, user_id: str, conversation_id: str
    ) -> dict[str, list[JudgementRecord]]:
        """The judgements of a conversation's responses by response id, oldest first.

        Everyone's who may write to it (`user_id` is its owner): what a reader sees.
        """
        rows = await self._read(
            _SELECT + " WHERE conversation_id = %s AND conversation_id IN"
            " (SELECT conversation_id FROM conversations"
            "  WHERE conversation_id = %s AND user_id = %s)"
            " ORDER BY create_time, seq",
            (conversation_id, conversation_id, user_id),
        )
        found: dict[str, list[JudgementRecord]] = {}
        for row in rows:
            found.setdefault(row[1], []).append(read_judgement(row))
        return found
