"""One import call: the responses sent in chunks (ImportConversationStream) as they are made.

The server checks and stores each chunk while the next is made and sent, so a caller that
reads a file a chunk at a time (`client.export.importing.import_chunks`) overlaps its
reading with the server's work. A chunk source that raises (a problem found in the file)
cancels the call: the server stores nothing, and the caller gets the source's error. A
server from before the streaming call answers UNIMPLEMENTED: the chunks are then joined
into one ImportConversation request, which it knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

import grpc

from grove_explorer.client.errors import translate
from grove_explorer.client.rpc import rpc
from grove_explorer.protos import chat_pb2, chat_pb2_grpc

CHUNK_RESPONSES = 2_000
"""Responses per chunk: a few hundred KB, small beside gRPC's flow-control window, and
many chunks in a long import so the server's work starts early."""


def request_chunks(
    request: chat_pb2.ImportConversationRequest, size: int = CHUNK_RESPONSES
) -> Iterator[chat_pb2.ImportChunk]:
    """`request` as chunks of `size` responses, each with the tokens of its responses.

    Tokens the request keeps for a response it does not hold go with the last chunk, so
    the server names them as the unary call does.
    """
    responses = request.responses
    count = len(responses)
    tokens = request.tokens
    placed: set[str] = set()
    for start in range(0, max(count, 1), size):
        chunk = chat_pb2.ImportChunk()
        part = chunk.part
        if start == 0:
            chunk.response_count = count
            part.title = request.title
            part.starred = request.starred
            part.summary_only = request.summary_only
            part.keep_times = request.keep_times
            if request.HasField("create_time"):
                part.create_time.CopyFrom(request.create_time)
        selected = responses[start : start + size]
        part.responses.extend(selected)
        if tokens:
            for wire in selected:
                listed = tokens.get(wire.response_id)
                if listed is not None:
                    part.tokens[wire.response_id].CopyFrom(listed)
                    placed.add(wire.response_id)
            if start + size >= count:
                for key, listed in tokens.items():
                    if key not in placed:
                        part.tokens[key].CopyFrom(listed)
        yield chunk


async def import_in_chunks(
    stub: chat_pb2_grpc.ChatStub, chunks: Iterable[chat_pb2.ImportChunk]
) -> chat_pb2.Conversation:
    """Sends `chunks` (made as they are sent) as one import; the server's reply.

    Raises the SDK's typed error for the server's refusal, or whatever the chunk source
    raises (the call is cancelled first, so nothing is stored).
    """
    sent: list[chat_pb2.ImportChunk] = []
    source = iter(chunks)
    call = stub.ImportConversationStream()
    try:
        for chunk in source:
            if call.done():  # the server refused already: its status says why
                break
            sent.append(chunk)
            try:
                await call.write(chunk)
            except asyncio.InvalidStateError:  # finished between the check and the write
                break
        else:
            await call.done_writing()
        created: chat_pb2.Conversation = await call
        return created
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise translate(error) from None
    except BaseException:
        call.cancel()
        raise
    # An older server: the whole import as one request.
    return await rpc(stub.ImportConversation(joined([*sent, *source])))


def joined(chunks: Iterable[chat_pb2.ImportChunk]) -> chat_pb2.ImportConversationRequest:
    """The one ImportConversation request that `chunks` are the parts of."""
    request = chat_pb2.ImportConversationRequest()
    for chunk in chunks:
        request.MergeFrom(chunk.part)
    return request
