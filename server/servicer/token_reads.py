"""GetResponsesTokens: the stored tokens of many responses of one conversation at once.

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
from grove_explorer.server.convert import fill_token_rows
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
