"""The arena_votes table of the SQLite store: blind pairwise votes (migration 15).

A vote belongs to who cast it (the owner, or a writer the conversation is shared with), as
a judgement does, and goes with the conversation (ON DELETE CASCADE). The two setups are
JSON columns: they are read with the vote and never queried by field, so a side table
would only add a join.
"""

from __future__ import annotations

import uuid

from grove_explorer.server.store.arena_records import (
    NewVote,
    VoteRecord,
)
from grove_explorer.server.store.arena_rows import (
    VOTE_COLUMNS,
    VOTE_SELECT,
    encode_setup,
    read_vote,
)
from grove_explorer.server.store.rows import format_time
from grove_explorer.server.store.sqlite.connection import SqliteDatabase, require_owned


class ArenaQueries(SqliteDatabase):
    """Arena votes: one row per vote, the user's own only."""

    async def add_vote(
        self, user_id: str, conversation_id: str, vote: NewVote, *, voter: str = ""
    ) -> VoteRecord:
        """Stores one vote; UnknownConversationError when the conversation is not the user's.

        `user_id` owns the conversation (the check); the vote is `voter`'s ("": the
        owner's), so it counts in the voter's leaderboard, not the owner's.
        """
        vote_id = uuid.uuid4().hex
        async with self._transaction() as conn:
            await require_owned(conn, user_id, conversation_id)
            created = self._tick()
            await conn.execute(
                f"INSERT INTO arena_votes ({', '.join(VOTE_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(VOTE_COLUMNS))})",
                (
                    vote_id,
                    voter or user_id,
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
        """The user's own votes, oldest first: of one conversation, or of all ("").

        Only of conversations they may still read (theirs, or shared with them): a
        revoked share takes its votes out of their leaderboard with it.
        """
        readable = (
            " AND (conversation_id IN (SELECT conversation_id FROM conversations"
            " WHERE user_id = ?) OR conversation_id IN"
            " (SELECT conversation_id FROM shares WHERE user_id = ?))"
        )
        if conversation_id:
            rows = await self._read(
                VOTE_SELECT
                + " WHERE user_id = ? AND conversation_id = ?"
                + readable
                + " ORDER BY create_time, rowid",
                (user_id, conversation_id, user_id, user_id),
            )
        else:
            rows = await self._read(
                VOTE_SELECT + " WHERE user_id = ?" + readable + " ORDER BY create_time, rowid",
                (user_id, user_id, user_id),
            )
        return [read_vote(row) for row in rows]
