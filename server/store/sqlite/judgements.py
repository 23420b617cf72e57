"""The judgements table of the SQLite store: judge models' scores of replies (migration 12).

A judgement belongs to who asked for it (the owner, or a writer the conversation is shared
with), and every one of them shows with the conversation. Rows carry their
conversation's id, so a conversation's judgements are one indexed read however many
responses it has (and none at all costs one index probe); a batch of one judge call is
written in one transaction, so a failing batch leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from grove_explorer.server.store.protocol import UnknownParentError
from grove_explorer.server.store.records import JudgementRecord, NewJudgement, SamplingRecord
from grove_explorer.server.store.rows import (
    decode_seed,
    encode_seed,
    format_time,
    parse_time,
)
from grove_explorer.server.store.sqlite.connection import SqliteDatabase, require_owned

JUDGEMENT_COLUMNS = (
    "judgement_id",
    "response_id",
    "conversation_id",
    "user_id",
    "score",
    "rationale",
    "judge_model",
    "rubric_name",
    "rubric",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "mode",
    "batch_id",
    "heuristic",
    "create_time",
)
"""The table's columns in the order `judgement_row` gives them (imports insert these)."""

_SELECT = (
    "SELECT judgement_id, response_id, score, rationale, judge_model, rubric_name, rubric,"
    " temperature, top_p, max_tokens, seed, mode, batch_id, heuristic, create_time, user_id"
    " FROM judgements"
)


def judgement_row(
    judgement: NewJudgement,
    *,
    judgement_id: str,
    response_id: str,
    conversation_id: str,
    user_id: str,
    batch_id: str,
    create_time: str,
) -> tuple[Any, ...]:
    """The stored row of a judgement, in `JUDGEMENT_COLUMNS` order."""
    sampling = judgement.sampling
    return (
        judgement_id,
        response_id,
        conversation_id,
        user_id,
        judgement.score,
        judgement.rationale,
        judgement.judge_model,
        judgement.rubric_name,
        judgement.rubric,
        None if sampling is None else sampling.temperature,
        None if sampling is None else sampling.top_p,
        None if sampling is None else sampling.max_tokens,
        None if sampling is None else encode_seed(sampling.seed),
        judgement.mode,
        batch_id,
        int(judgement.heuristic),
        create_time,
    )


def read_judgement(row: Sequence[Any]) -> JudgementRecord:
    """A judgement from a row of `_SELECT` (who asked for it last, when selected)."""
    sampling = None
    if row[7] is not None:
        sampling = SamplingRecord(
            temperature=row[7], top_p=row[8], max_tokens=row[9], seed=decode_seed(row[10])
        )
    created = parse_time(row[14])
    return JudgementRecord(
        judgement_id=row[0],
        batch_id=row[12],
        create_time=created,
        judgement=NewJudgement(
            response_id=row[1],
            score=row[2],
            rationale=row[3],
            judge_model=row[4],
            rubric_name=row[5],
            rubric=row[6],
            sampling=sampling,
            mode=row[11],
            heuristic=bool(row[13]),
            create_time=created,
            batch_id=row[12],
        ),
        asked_by=row[15] if len(row) > 15 else "",
    )


def imported_rows(
    judgements: Sequence[tuple[NewJudgement, str]], conversation_id: str, user_id: str, stamp: str
) -> list[tuple[Any, ...]]:
    """Rows of an import's judgements (each with its response's stored id).

    Their time and batch are kept from the export when given; else the import's time,
    and one batch per response.
    """
    rows: list[tuple[Any, ...]] = []
    for judgement, response_id in judgements:
        created = stamp if judgement.create_time is None else format_time(judgement.create_time)
        rows.append(
            judgement_row(
                judgement,
                judgement_id=uuid.uuid4().hex,
                response_id=response_id,
                conversation_id=conversation_id,
                user_id=user_id,
                batch_id=judgement.batch_id or response_id,
                create_time=created,
            )
        )
    return rows


class JudgementQueries(SqliteDatabase):
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
            marks = ",".join("?" * len(wanted))
            found = {
                row[0]
                for row in await conn.execute_fetchall(
                    f"SELECT response_id FROM responses WHERE conversation_id = ?"
                    f" AND response_id IN ({marks})",
                    (conversation_id, *wanted),
                )
            }
            missing = [r for r in wanted if r not in found]
            if missing:
                raise UnknownParentError(missing[0])
            created = self._tick()
            stamp = format_time(created)
            records: list[JudgementRecord] = []
            rows: list[tuple[Any, ...]] = []
            for judgement in judgements:
                judgement_id = uuid.uuid4().hex
                rows.append(
                    judgement_row(
                        judgement,
                        judgement_id=judgement_id,
                        response_id=judgement.response_id,
                        conversation_id=conversation_id,
                        user_id=author or user_id,
                        batch_id=batch_id,
                        create_time=stamp,
                    )
                )
                record = _record(judgement_id, batch_id, created, judgement)
                records.append(replace(record, asked_by=author or user_id))
            await conn.executemany(
                f"INSERT INTO judgements ({', '.join(JUDGEMENT_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(JUDGEMENT_COLUMNS))})",
                rows,
            )
        return records

    async def judgements(
        self, user_id: str, conversation_id: str
    ) -> dict[str, list[JudgementRecord]]:
        """The judgements of a conversation's responses by response id, oldest first.

        Everyone's who may write to it (`user_id` is its owner): what a reader sees.
        """
        rows = await self._read(
            _SELECT + " WHERE conversation_id = ? AND conversation_id IN"
            " (SELECT conversation_id FROM conversations"
            "  WHERE conversation_id = ? AND user_id = ?)"
            " ORDER BY create_time, rowid",
            (conversation_id, conversation_id, user_id),
        )
        found: dict[str, list[JudgementRecord]] = {}
        for row in rows:
            found.setdefault(row[1], []).append(read_judgement(row))
        return found


def _record(
    judgement_id: str, batch_id: str, created: datetime, judgement: NewJudgement
) -> JudgementRecord:
    """The record of a judgement just stored (its own time and batch filled in)."""
    return JudgementRecord(
        judgement_id=judgement_id,
        batch_id=batch_id,
        create_time=created,
        judgement=NewJudgement(
            response_id=judgement.response_id,
            score=judgement.score,
            rationale=judgement.rationale,
            judge_model=judgement.judge_model,
            rubric_name=judgement.rubric_name,
            rubric=judgement.rubric,
            sampling=judgement.sampling,
            mode=judgement.mode,
            heuristic=judgement.heuristic,
            create_time=created,
            batch_id=batch_id,
        ),
    )
