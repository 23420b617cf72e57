"""ImportConversationStream: an import whose responses arrive in chunks, stored as they come.

The unary ImportConversation waits for the client to read and check its whole file, then
for the whole request to arrive, before the first row is written. Here the first chunk
starts the import's transaction: each chunk's responses are checked (the same checks, in
the same order, with the same sentences as `importing.py`'s) and handed to the store's
`ImportStream` while the client still reads and sends the next, so the client's reading,
the server's checks and SQLite's inserts overlap. A problem in any chunk, a count that
does not match the first chunk's, or a call the client cancels rolls the transaction back:
nothing is stored, as with the unary call.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.servicer.importing import (
    check_request,
    collector_paused,
    import_parts,
)
from grove_explorer.server.servicer.status import abort
from grove_explorer.server.store import Store


async def import_stream_reply(
    store: Store,
    user: str,
    chunks: AsyncIterable[chat_pb2.ImportChunk],
    *,
    max_title_chars: int,
    max_message_bytes: int,
    context: grpc.aio.ServicerContext,
) -> chat_pb2.Conversation:
    """ImportConversationStream: the new conversation, as ImportConversation answers it."""
    received = aiter(chunks)
    first = await anext(received, None)
    if first is None:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "An import stream needs at least one chunk: the first names the title and how "
            "many responses the import holds.",
        )
    count = first.response_count
    if count < 0:
        await abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The first chunk's response_count must not be negative, not {count}.",
        )
    head = first.part
    await check_request(head, count, max_title_chars, context)

    async def parts() -> AsyncIterator[chat_pb2.ImportConversationRequest]:
        yield head
        async for chunk in received:
            yield chunk.part

    with collector_paused():
        return await import_parts(
            store,
            user,
            head,
            count,
            parts(),
            max_title_chars=max_title_chars,
            max_message_bytes=max_message_bytes,
            context=context,
        )
