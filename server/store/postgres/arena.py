"""The arena_votes table of the PostgreSQL store: blind pairwise votes.

The SQLite store's arena (server/store/sqlite/arena.py) on PostgreSQL, with its setup
JSON encoding shared. A vote belongs to the conversation's user and goes with the
conversation (ON DELETE CASCADE); the table's `seq` keeps votes of one instant in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from grove_explorer.server.store.arena_records import ArenaOutcomeName, NewVote, VoteRecord
from grove_explorer.server.store.postgres.connection import PostgresDatabase, require_owned
from grove_explorer.server.store.rows import parse_time
from grove_explorer.server.store.sqlite.arena import decode_setup, encode_setup

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


class ArenaQueries(PostgresDatabase):
    """Arena votes: one row per vote, the user's own only."""

    async def add_vote(self, user_id: str, conversation_id: str, vote: NewVote) -> VoteRecord:
        """Stores one vote; UnknownConversationError when the conversation is not the user's."""
        vote_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            await require_owned(conn, user_id, conversation_id)
            created = self._tick()
            await conn.execute(
                f"INSERT INTO arena_votes ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('%s' for _ in _COLUMNS)})",
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
                    created,
                ),
            )
        return VoteRecord(
            vote_id=vote_id, conversation_id=conversation_id, create_time=created, vote=vote
        )

    async def votes(self, user_id: str, conversation_id: str = "") -> list[VoteRecord]:
        """The user's votes, oldest first: of one conversation, or of all ("")."""
        if conversation_id:
            rows = await self._read(
                _SELECT + " WHERE user_id = %s AND conversation_id = %s ORDER BY create_time, seq",
                (user_id, conversation_id),
            )
        else:
            rows = await self._read(
                _SELECT + " WHERE user_id = %s ORDER BY create_time, seq", (user_id,)
            )
        return [_read_vote(row) for row in rows]
