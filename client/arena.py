"""The SDK's side of the blind arena: setups, votes, and the RecordVote / ListVotes calls.

A setup is what sampled one side of a pair (model, parameters, system prompt, or a label
the user gave it). Ratings group votes by a setup's `key`: its label when it has one, else
its model, parameters and system prompt, so two votes of the same setup always meet under
one name whatever order they were shown in. Proto-free records: the ratings
(`arena_ratings.py`), the exports and the app use them without the wire.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from grove_explorer.client.convert import utc_datetime
from grove_explorer.client.rpc import check_text, rpc

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2, chat_pb2_grpc

Outcome = Literal["a", "b", "tie", "both_bad"]
"""A vote: A better, B better, as good, or both bad."""

OUTCOMES: tuple[Outcome, ...] = ("a", "b", "tie", "both_bad")
_WIRE_OUTCOME: dict[Outcome, int] = {"a": 1, "b": 2, "tie": 3, "both_bad": 4}
"""ArenaOutcome's numbers (chat.proto): A = 1, B = 2, TIE = 3, BOTH_BAD = 4."""


class Setup(BaseModel):
    """One side of an arena pair: the model and what it was sampled with."""

    model_config = ConfigDict(frozen=True)

    model_name: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    system_prompt_name: str | None = None
    """"" the server's default prompt; None: no system prompt."""
    label: str = ""

    @property
    def key(self) -> str:
        """The stable name votes are grouped by: the label, else model + parameters + prompt."""
        if self.label:
            return self.label
        parts = [self.model_name or "(default model)"]
        for name, value in (
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("max_tokens", self.max_tokens),
            ("seed", self.seed),
        ):
            if value is not None:
                parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
        if self.system_prompt_name is not None:
            parts.append(f"system={self.system_prompt_name or 'default'}")
        return " ".join(parts)


class Vote(BaseModel):
    """A stored vote: two replies to one parent as shown (A, B), their setups, the outcome."""

    model_config = ConfigDict(frozen=True)

    vote_id: str
    conversation_id: str
    parent_response_id: str
    response_a: str
    response_b: str
    setup_a: Setup
    setup_b: Setup
    outcome: Outcome
    create_time: datetime.datetime | None = None

    @property
    def winner(self) -> str | None:
        """The winning response id (None for a tie or both bad)."""
        return {"a": self.response_a, "b": self.response_b}.get(self.outcome)


def setup_to_wire(setup: Setup) -> chat_pb2.ArenaSetup:
    """The wire form of a setup (None fields stay unset)."""
    from grove_explorer.protos import chat_pb2

    message = chat_pb2.ArenaSetup(
        model_name=check_text(setup.model_name), label=check_text(setup.label)
    )
    if setup.system_prompt_name is not None:
        message.system_prompt_name = check_text(setup.system_prompt_name)
    params = message.sampling_params
    if setup.temperature is not None:
        params.temperature = setup.temperature
    if setup.top_p is not None:
        params.top_p = setup.top_p
    if setup.max_tokens is not None:
        params.max_tokens = setup.max_tokens
    if setup.seed is not None:
        params.seed = setup.seed
    return message


def setup_from_wire(message: chat_pb2.ArenaSetup) -> Setup:
    """A setup from its wire form."""
    params = message.sampling_params
    return Setup(
        model_name=message.model_name,
        temperature=_short(params.temperature) if params.HasField("temperature") else None,
        top_p=_short(params.top_p) if params.HasField("top_p") else None,
        max_tokens=params.max_tokens if params.HasField("max_tokens") else None,
        seed=params.seed if params.HasField("seed") else None,
        system_prompt_name=(
            message.system_prompt_name if message.HasField("system_prompt_name") else None
        ),
        label=message.label,
    )


def _short(value: float) -> float:
    """A wire float (32 bits: 1.2 arrives as 1.2000000476…) back as the decimal sent."""
    return float(f"{value:.7g}")


def vote_from_wire(message: chat_pb2.ArenaVote) -> Vote:
    """A vote from its wire form (an unknown outcome number reads as a tie)."""
    by_number = {number: name for name, number in _WIRE_OUTCOME.items()}
    return Vote(
        vote_id=message.vote_id,
        conversation_id=message.conversation_id,
        parent_response_id=message.parent_response_id,
        response_a=message.response_a,
        response_b=message.response_b,
        setup_a=setup_from_wire(message.setup_a),
        setup_b=setup_from_wire(message.setup_b),
        outcome=by_number.get(message.outcome, "tie"),
        create_time=utc_datetime(message.create_time) if message.HasField("create_time") else None,
    )


async def record_vote(
    stub: chat_pb2_grpc.ChatStub,
    conversation_id: str,
    parent_response_id: str,
    response_a: str,
    response_b: str,
    setup_a: Setup,
    setup_b: Setup,
    outcome: Outcome,
) -> Vote:
    """Stores a vote; the server's refusals raise the SDK's typed errors with its sentence."""
    from grove_explorer.protos import chat_pb2

    if outcome not in _WIRE_OUTCOME:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    request = chat_pb2.RecordVoteRequest(
        conversation_id=conversation_id,
        parent_response_id=parent_response_id,
        response_a=response_a,
        response_b=response_b,
        setup_a=setup_to_wire(setup_a),
        setup_b=setup_to_wire(setup_b),
        outcome=_WIRE_OUTCOME[outcome],  # type: ignore[arg-type]
    )
    return vote_from_wire(await rpc(stub.RecordVote(request)))


async def list_votes(stub: chat_pb2_grpc.ChatStub, conversation_id: str = "") -> list[Vote]:
    """The caller's votes, oldest first: of one conversation, or of all ("")."""
    from grove_explorer.protos import chat_pb2

    reply: chat_pb2.ListVotesResponse = await rpc(
        stub.ListVotes(chat_pb2.ListVotesRequest(conversation_id=conversation_id))
    )
    return [vote_from_wire(v) for v in reply.votes]
