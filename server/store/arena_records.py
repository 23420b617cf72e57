"""The store's records of blind arena votes (migration 15), proto-free like records.py.

Kept apart from records.py so the arena's shapes live with the arena: a vote names two
replies to one parent, the two setups that sampled them and the user's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ArenaOutcomeName = Literal["a", "b", "tie", "both_bad"]
"""The stored outcome of a vote (the wire's ArenaOutcome without UNSPECIFIED)."""


@dataclass(frozen=True, slots=True)
class ArenaSetupRecord:
    """One side of a pair: what sampled it. None sampling fields mean "the default"."""

    model_name: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    system_prompt_name: str | None = None
    """"" the default prompt; None: no system prompt (as ArenaSetup says)."""
    label: str = ""


@dataclass(frozen=True, slots=True)
class NewVote:
    """A vote as the servicer checked it, before the store gives it an id and a time."""

    parent_response_id: str
    response_a: str
    response_b: str
    setup_a: ArenaSetupRecord
    setup_b: ArenaSetupRecord
    outcome: ArenaOutcomeName


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """A stored vote of one user in one of their conversations."""

    vote_id: str
    conversation_id: str
    create_time: datetime
    vote: NewVote
