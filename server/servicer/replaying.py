"""Checks of a replayed turn's provenance (AddResponseRequest.replay_of_human / _reply).

A replay (client/replaying.py) copies each human turn of a path and re-samples each model
turn under another setup; every new response names the original it replays. The names
are checked here before anything is stored, so a stored `replay_of` always points at a
response of the same conversation of the right kind: a copied message replays a human
message, a re-sampled reply a model reply.
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.servicer.status import abort, check_id, quote
from grove_explorer.server.store import Store


async def check_replay_or_abort(
    store: Store,
    user: str,
    conversation_id: str,
    request: chat_pb2.AddResponseRequest,
    context: grpc.aio.ServicerContext,
) -> None:
    """Ends the call (INVALID_ARGUMENT) when a replay field names no fitting response.

    `replay_of_human` needs a message to copy; each field must name a response of this
    conversation whose sender is the one the new response has.
    """
    if request.replay_of_human and not request.message:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "replay_of_human names the message a new human message copies, but the request "
            "has no message.",
        )
    for field, original, sender in (
        ("replay_of_human", request.replay_of_human, "human"),
        ("replay_of_reply", request.replay_of_reply, "model"),
    ):
        if not original:
            continue
        await check_id(field, original, context)
        record = await store.get_response(user, conversation_id, original)
        if record is None:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{field} {quote(original)} is not a response of conversation "
                f"{quote(conversation_id)}.",
            )
        if record.sender != sender:
            await abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{field} {quote(original)} is a {record.sender} response; it must be a "
                f"{'human message' if sender == 'human' else 'model reply'}.",
            )
