"""The arena_votes table of the SQLite store: blind pairwise votes (migration 15).

A vote belongs to the conversation's user, as a judgement does, and goes with the
conversation (ON DELETE CASCADE). The two setups are JSON columns: they are read with the
vote and never queried by field, so a side table would only add a join.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, cast

from grove_explorer.server.store.arena_records import (
    ArenaOutcomeName,
    ArenaSetupRecord,
    NewVote,
    VoteRecord,
)
from grove_explorer.server.store.rows import format_time, parse_time
from grove_explorer.server.store.sqlite.connection import SqliteDatabase, require_owned

_COLUMNS = (
    "vote_id",
    "user_id",
    "conversation_id",
    "parent_response_id",
    "response_a",
    "response_b",
    "setup_a",
    "setup_b",
    "outcome",
    "create_time",
)

_SELECT = (
    "SELECT vote_id, conversation_id, parent_response_id, response_a, response_b,"
    " setup_a, setup_b, outcome, create_time FROM arena_votes"
)


def encode_setup(setup: ArenaSetupRecord) -> str:
    """A setup as its JSON column (keys sorted: equal setups store equal text)."""
    return json.dumps(
        {
            "model_name": setup.model_name,
            "temperature": setup.temperature,
            "top_p": setup.top_p,
            "max_tokens": setup.max_tokens,
            "seed": setup.seed,
            "system_prompt_name": setup.system_prompt_name,
            "label": setup.label,
        },
        sort_keys=True,
    )


def decode_setup(text: str) -> ArenaSetupRecord:
    """A setup from its JSON column (fields missing from older rows take their default)."""
    data: dict[str, Any] = json.loads(text)
    return ArenaSetupRecord(
        model_name=str(data.get("model_name", "")),
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        max_tokens=data.get("max_tokens"),
        seed=data.get("seed"),
        system_prompt_name=data.get("system_prompt_name"),
        label=str(data.get("label", "")),
    )


def _read_vote(row: Sequence[Any]) -> VoteRecord:
    """A vote from a row of `_SELECT`."""
    return VoteRecord(
        vote_id=row[0],
        conversation_id=row[1],
        create_time=parse_time(row[8]),
        vote=NewVote(
            parent_response_id=row[2],
            response_a=row[3],
            response_b=row[4],
            setup_a=decode_setup(row[5]),
            setup_b=decode_setup(row[6]),
            outcome=cast(ArenaOutcomeName, row[7]),
        ),
    )


class ArenaQueries(SqliteDatabase):
    """Arena votes: one row per vote, the user's own only."""

    async def add_vote(self, user_id: str, conversation_id: str, vote: NewVote) -> VoteRecord:
        """Stores one vote; UnknownConversationError when the conversation is not the user's."""
        vote_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            await require_owned(conn, user_id, conversation_id)
            created = self._tick()
            await conn.execute(
                f"INSERT INTO arena_votes ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_COLUMNS))})",
                (
                    vote_id,
                    user_id,
                    conversation_id,
                    vote.parent_response_id,
                    vote.response_a,
                    vote.response_b,
                    encode_setup(vote.setup_a),
                    encode_setup(vote.setup_b),
                    vote.outcome,
                    format_time(created),
                ),
            )
        return VoteRecord(
            vote_id=vote_id, conversation_id=conversation_id, create_time=created, vote=vote
        )

    async def votes(self, user_id: str, conversation_id: str = "") -> list[VoteRecord]:
        """The user's votes, oldest first: of one conversation, or of all ("")."""
        if conversation_id:
            rows = await self._read(
                _SELECT + " WHERE user_id = ? AND conversation_id = ? ORDER BY create_time, rowid",
                (user_id, conversation_id),
            )
        else:
            rows = await self._read(
                _SELECT + " WHERE user_id = ? ORDER BY create_time, rowid", (user_id,)
            )
        return [_read_vote(row) for row in rows]
