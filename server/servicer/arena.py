"""RecordVote and ListVotes: checking a blind arena vote and storing it per user.

Every check runs before the write, each with its own sentence: the ids are Grove ids, the
conversation is the caller's (another user's is NOT_FOUND, like a missing one), both
replies are different model replies and children of the named parent, the outcome is
set, and the setups' texts are of a sane size. The setups are what the client says sampled
each reply; the server keeps them as given (a vote may name a setup this server no longer
offers, so model names are not checked against the configured models).
"""

from __future__ import annotations

import math

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import set_time
from grove_explorer.server.servicer.lookups import conversation_id_or_abort
from grove_explorer.server.servicer.status import abort, abort_not_found, check_id, quote
from grove_explorer.server.store import Store, UnknownConversationError
from grove_explorer.server.store.arena_records import (
    ArenaOutcomeName,
    ArenaSetupRecord,
    NewVote,
    VoteRecord,
)

MAX_SETUP_TEXT = 200
"""Most characters of a setup's model name, system prompt name or label (refused beyond)."""

OUTCOME_FROM_WIRE: dict[int, ArenaOutcomeName] = {
    chat_pb2.ARENA_OUTCOME_A: "a",
    chat_pb2.ARENA_OUTCOME_B: "b",
    chat_pb2.ARENA_OUTCOME_TIE: "tie",
    chat_pb2.ARENA_OUTCOME_BOTH_BAD: "both_bad",
}
OUTCOME_TO_WIRE: dict[ArenaOutcomeName, int] = {
    name: wire for wire, name in OUTCOME_FROM_WIRE.items()
}


async def record_vote(
    store: Store,
    user: str,
    request: chat_pb2.RecordVoteRequest,
    context: grpc.aio.ServicerContext,
    *,
    voter: str = "",
) -> chat_pb2.ArenaVote:
    """Checks the vote, stores it as `voter`'s and returns it with its id and time.

    `user` owns the conversation; `voter` cast the vote ("": the owner).
    """
    conversation_id = await conversation_id_or_abort(store, user, request.conversation_id, context)
    outcome = OUTCOME_FROM_WIRE.get(request.outcome)
    if outcome is None:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "outcome is required: A, B, TIE or BOTH_BAD (ArenaOutcome).",
        )
    for name, value in (
        ("parent_response_id", request.parent_response_id),
        ("response_a", request.response_a),
        ("response_b", request.response_b),
    ):
        if not value:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{name} is required.")
        await check_id(name, value, context)
    if request.response_a == request.response_b:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"response_a and response_b are the same reply {quote(request.response_a)}; "
            "a vote compares two different replies.",
        )
    for side, response_id in (("A", request.response_a), ("B", request.response_b)):
        record = await store.get_response(user, conversation_id, response_id)
        if record is None:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Response {quote(response_id)} is not in conversation {quote(conversation_id)}.",
            )
        if record.sender != "model":
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Reply {side} {quote(response_id)} is a human message; "
                "a vote compares two model replies.",
            )
        if record.parent_response_id != request.parent_response_id:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Reply {side} {quote(response_id)} is not a child of "
                f"{quote(request.parent_response_id)}; both replies of a vote answer its parent.",
            )
    vote = NewVote(
        parent_response_id=request.parent_response_id,
        response_a=request.response_a,
        response_b=request.response_b,
        setup_a=await setup_or_abort("setup_a", request.setup_a, context),
        setup_b=await setup_or_abort("setup_b", request.setup_b, context),
        outcome=outcome,
    )
    try:
        stored = await store.add_vote(user, conversation_id, vote, voter=voter)
    except UnknownConversationError:  # deleted meanwhile
        await abort_not_found(context, conversation_id)
    return vote_to_proto(stored)


async def list_votes(
    store: Store,
    user: str,
    request: chat_pb2.ListVotesRequest,
    context: grpc.aio.ServicerContext,
    *,
    voter: str = "",
) -> chat_pb2.ListVotesResponse:
    """`voter`'s votes, oldest first, of one conversation of `user`'s ("" : of all).

    `user` owns the named conversation ("" `voter`: the same user); a leaderboard is the
    votes its user cast, wherever they could vote.
    """
    conversation_id = ""
    if request.conversation_id:
        conversation_id = await conversation_id_or_abort(
            store, user, request.conversation_id, context
        )
    votes = await store.votes(voter or user, conversation_id)
    return chat_pb2.ListVotesResponse(votes=[vote_to_proto(v) for v in votes])


async def setup_or_abort(
    name: str, setup: chat_pb2.ArenaSetup, context: grpc.aio.ServicerContext
) -> ArenaSetupRecord:
    """The store's record of a setup, or INVALID_ARGUMENT naming the bad field."""
    texts = [("model_name", setup.model_name), ("label", setup.label)]
    if setup.HasField("system_prompt_name"):
        texts.append(("system_prompt_name", setup.system_prompt_name))
    for field, text in texts:
        if len(text) > MAX_SETUP_TEXT:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{name}.{field} has {len(text)} characters; at most {MAX_SETUP_TEXT}.",
            )
    if not (setup.model_name or setup.label):
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name} names no model and no label: a vote must say what sampled each reply.",
        )
    params = setup.sampling_params
    for field in ("temperature", "top_p"):
        if params.HasField(field) and not math.isfinite(getattr(params, field)):
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{name}.sampling_params.{field} is not a finite number.",
            )
    return ArenaSetupRecord(
        model_name=setup.model_name,
        temperature=params.temperature if params.HasField("temperature") else None,
        top_p=params.top_p if params.HasField("top_p") else None,
        max_tokens=params.max_tokens if params.HasField("max_tokens") else None,
        seed=params.seed if params.HasField("seed") else None,
        system_prompt_name=(
            setup.system_prompt_name if setup.HasField("system_prompt_name") else None
        ),
        label=setup.label,
    )


def setup_to_proto(setup: ArenaSetupRecord) -> chat_pb2.ArenaSetup:
    """The wire form of a stored setup (unset fields stay unset)."""
    message = chat_pb2.ArenaSetup(model_name=setup.model_name, label=setup.label)
    if setup.system_prompt_name is not None:
        message.system_prompt_name = setup.system_prompt_name
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


def vote_to_proto(record: VoteRecord) -> chat_pb2.ArenaVote:
    """The wire form of a stored vote."""
    vote = record.vote
    message = chat_pb2.ArenaVote(
        vote_id=record.vote_id,
        conversation_id=record.conversation_id,
        parent_response_id=vote.parent_response_id,
        response_a=vote.response_a,
        response_b=vote.response_b,
        setup_a=setup_to_proto(vote.setup_a),
        setup_b=setup_to_proto(vote.setup_b),
        outcome=OUTCOME_TO_WIRE[vote.outcome],  # type: ignore[arg-type]
    )
    set_time(message.create_time, record.create_time)
    return message
