"""Arena votes as rows, for both stores: the columns, the setup's JSON, a row's record.

The SQLite and PostgreSQL stores hold votes in the same `arena_votes` columns; only their
SQL dialects differ (server/store/sqlite/arena.py, server/store/postgres/arena.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from grove_explorer.server.store.arena_records import (
    ArenaOutcomeName,
    ArenaSetupRecord,
    NewVote,
    VoteRecord,
)
from grove_explorer.server.store.rows import parse_time

VOTE_COLUMNS = (
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

VOTE_SELECT = (
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


def read_vote(row: Sequence[Any]) -> VoteRecord:
    """A vote from a row of `VOTE_SELECT`."""
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
