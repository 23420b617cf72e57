"""GetResponseTokens and GetResponsesTokens: stored tokens of responses of a conversation.

An export of a forest needs every reply's tokens; one GetResponseTokens call per reply
cost a round trip and a lookup each (a 5,000-deep path took seconds in calls alone). This
answers them in one call, with the same statuses as the single call: a malformed id is
INVALID_ARGUMENT, an unknown conversation NOT_FOUND, and an id that is not a response of
the conversation fails the whole call with INVALID_ARGUMENT naming it (nothing is left
out silently).
"""

from __future__ import annotations

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import fill_token_rows, token_rows_to_proto
from grove_explorer.server.servicer.access import resolve
from grove_explorer.server.servicer.lookups import conversation_or_abort
from grove_explorer.server.servicer.status import abort, check_id, quote
from grove_explorer.server.store import Store


async def responses_tokens_reply(
    store: Store,
    user: str,
    request: chat_pb2.GetResponsesTokensRequest,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.GetResponsesTokensResponse:
    """One entry per requested id, in the order asked (a repeated id is answered again)."""
    record = await conversation_or_abort(store, user, request.conversation_id, context)
    for response_id in request.response_ids:
        await check_id("response id", response_id, context)
    found = await store.responses_tokens(user, record.conversation_id, request.response_ids)
    missing = [r for r in request.response_ids if r not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Response {quote(missing[0])}{more} is not in conversation "
            f"{quote(record.conversation_id)}.",
        )
    reply = chat_pb2.GetResponsesTokensResponse()
    for response_id in request.response_ids:
        entry = reply.responses.add(response_id=response_id)
        fill_token_rows(entry.tokens, found[response_id])
    return reply


async def response_tokens_reply(
    store: Store,
    user: str,
    request: chat_pb2.GetResponseTokensRequest,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.GetResponseTokensResponse:
    """The stored tokens of one response, with logprobs and alternatives.

    A response found in the caller's own conversation answers at once: that lookup checks
    both, and a conversation's lookup counts its responses (an export asks once per
    reply, which made exporting n replies O(n²)). Anything else — a conversation shared
    with the caller included — takes the checks below in their order, for the same
    statuses and sentences.
    """
    if request.conversation_id and request.response_id:
        rows = await store.response_tokens(user, request.conversation_id, request.response_id)
        if rows is not None:
            return chat_pb2.GetResponseTokensResponse(tokens=token_rows_to_proto(rows))
    owner = await resolve(store, context, user, request.conversation_id, "read")
    record = await conversation_or_abort(store, owner, request.conversation_id, context)
    if not request.response_id:
        await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "response_id is required.")
    await check_id("response id", request.response_id, context)
    rows = await store.response_tokens(owner, record.conversation_id, request.response_id)
    if rows is None:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Response {quote(request.response_id)} is not in conversation "
            f"{quote(record.conversation_id)}.",
        )
    return chat_pb2.GetResponseTokensResponse(tokens=token_rows_to_proto(rows))
