"""Store reads and writes that answer a missing conversation or response with a status.

A conversation of another user is NOT_FOUND exactly like a missing one; a response that
is not in the named conversation is the request's mistake (INVALID_ARGUMENT).
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from grove_explorer.server.sampler.base import Sampler
from grove_explorer.server.servicer.status import (
    Abortable,
    abort,
    abort_not_found,
    check_id,
    quote,
)
from grove_explorer.server.store import (
    ConversationRecord,
    NewResponse,
    ResponseRecord,
    Store,
    UnknownConversationError,
    UnknownParentError,
)


async def conversation_or_abort(
    store: Store, user: str, conversation_id: str, context: grpc.aio.ServicerContext
) -> ConversationRecord:
    """The caller's conversation, or the call ends (INVALID_ARGUMENT / NOT_FOUND)."""
    if not conversation_id:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "conversation_id is required.")
    await check_id("conversation_id", conversation_id, context)
    record = await store.get_conversation(user, conversation_id)
    if record is None:
        await abort_not_found(context, conversation_id)
    return record


async def conversation_id_or_abort(
    store: Store,
    user: str,
    conversation_id: str,
    context: grpc.aio.ServicerContext,
    *,
    owned: bool | None = None,
) -> str:
    """The conversation's id, after `conversation_or_abort`'s checks and statuses.

    For a call that needs only the id: the record's response count is a pass over every
    response of the conversation (AddResponse paid it on each turn of a deep path).
    `owned`: whether it is the user's, when already read with the caller's key
    (`Authenticator.identify_for`); None reads it here.
    """
    if not conversation_id:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "conversation_id is required.")
    await check_id("conversation_id", conversation_id, context)
    if owned is None:
        owned = await store.has_conversation(user, conversation_id)
    if not owned:
        await abort_not_found(context, conversation_id)
    return conversation_id


async def path_or_abort(
    store: Store,
    user: str,
    conversation_id: str,
    response_id: str | None,
    context: grpc.aio.ServicerContext,
) -> list[ResponseRecord]:
    """The path from the root to `response_id` ([] for None), or the call ends."""
    if response_id is None:
        return []
    await check_id("response id", response_id, context)
    try:
        return await store.path_to(user, conversation_id, response_id)
    except UnknownParentError:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Response {quote(response_id)} is not in conversation {quote(conversation_id)}.",
        )


async def insert_or_abort(
    store: Store,
    user: str,
    new: NewResponse,
    context: Abortable,
    *,
    checkpoint_id: str | None = None,
    leaf_follows: str | None = None,
    start_following: bool = False,
) -> ResponseRecord:
    """Stores a response, or ends the call if its conversation or parent is gone."""
    try:
        return await store.add_response(
            user,
            new,
            checkpoint_id=checkpoint_id,
            leaf_follows=leaf_follows,
            start_following=start_following,
        )
    except UnknownConversationError:
        await abort_not_found(context, new.conversation_id)
    except UnknownParentError:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Response {quote(new.parent_response_id or '')} is not in conversation "
            f"{quote(new.conversation_id)}.",
        )


async def sampler_or_abort(
    samplers: Mapping[str, Sampler],
    default_model: str,
    model_name: str,
    context: grpc.aio.ServicerContext,
) -> tuple[str, Sampler]:
    """The named model and its sampler (the default for ""), else INVALID_ARGUMENT.

    The error names the known models: one sentence for every RPC that takes a model name.
    """
    name = model_name or default_model
    sampler = samplers.get(name)
    if sampler is None:
        known = ", ".join(sorted(samplers))
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Unknown model {quote(model_name)}; this server has: {known}.",
        )
    return name, sampler
