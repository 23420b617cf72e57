"""ImportConversationStream: an import in chunks is the unary import, stored as it arrives.

The chunks of a request store the same conversation as the request sent whole; a problem in
a later chunk, a count that does not match the first chunk's, tokens sent with another
chunk than their response, or a client that cancels half way store nothing (one
transaction); an older server without the streaming call gets the unary one from the SDK.
The import's commit skips SQLite's automatic checkpoint and runs it right after.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.client import Client, InvalidArgumentError
from grove_explorer.client.import_call import joined, request_chunks
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer import importing
from grove_explorer.server.servicer.rpcs import ChatServicer
from grove_explorer.server.store.sqlite import imports
from tests.server.test_import_reply import _varied


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[Any]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


def _stored(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in ("conversations", "responses", "annotations", "response_tokens")
        } | {"search_rows": conn.execute("SELECT * FROM search_rows ORDER BY id").fetchall()}


def _with_tokens(size: int) -> chat_pb2.ImportConversationRequest:
    request = _varied(size)
    for wire in request.responses:
        if wire.sender == "model" and not wire.manual and int(wire.response_id[1:]) % 3 == 0:
            tokens = request.tokens[wire.response_id].tokens
            for word in wire.message.split(" "):
                token = tokens.add()
                token.final_logit.string_token = word if not tokens[:-1] else " " + word
                token.final_logit.logprob = -0.5
    return request


@pytest.mark.parametrize("size", [0, 1, 45, importing.BATCH * 2 + 300])
async def test_chunks_store_what_the_whole_request_stores(stub: Any, size: int) -> None:
    request = _with_tokens(size)
    whole = await stub.ImportConversation(request)
    streamed = await stub.ImportConversationStream(iter(list(request_chunks(request, 20))))
    assert streamed.response_count == whole.response_count == size
    assert streamed.title == whole.title and streamed.starred == whole.starred
    assert [r.message for r in streamed.responses] == [r.message for r in whole.responses]
    loaded = [
        await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=c))
        for c in (whole.conversation_id, streamed.conversation_id)
    ]
    assert list(streamed.responses) == list(loaded[1].responses)  # the reply is what is stored

    def shape(conversation: chat_pb2.Conversation) -> list[tuple[Any, ...]]:
        position = {r.response_id: i for i, r in enumerate(conversation.responses)}
        return [
            (
                r.message,
                position.get(r.parent_response_id),
                r.sampling_params.SerializeToString(),
                r.finish_reason,
                r.annotation.SerializeToString(),
            )
            for r in conversation.responses
        ]

    assert shape(loaded[0]) == shape(loaded[1])
    for whole_reply, streamed_reply in zip(loaded[0].responses, loaded[1].responses, strict=True):
        tokens = [
            await stub.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(
                    conversation_id=c.conversation_id, response_id=r.response_id
                )
            )
            for c, r in ((loaded[0], whole_reply), (loaded[1], streamed_reply))
            if r.sender == "model"
        ]
        assert len({t.SerializeToString() for t in tokens}) <= 1
    hits = await stub.Search(chat_pb2.SearchRequest(query='"message 1 with"', limit=100))
    found = {h.conversation_id for h in hits.hits}
    assert (streamed.conversation_id in found) == (size > 1)


def _late_problem(request: chat_pb2.ImportConversationRequest) -> None:
    request.responses[-7].parent_response_id = "nowhere"


def _stray_tokens(request: chat_pb2.ImportConversationRequest) -> None:
    request.tokens["ghost"].tokens.add()


PROBLEMS: dict[str, tuple[Callable[[chat_pb2.ImportConversationRequest], None], str]] = {
    "late parent": (_late_problem, "names parent 'nowhere', which does not come before it"),
    "stray tokens": (_stray_tokens, "The tokens map names response 'ghost', which is not in"),
}


@pytest.mark.parametrize("summary_only", [True, False], ids=["summary", "whole"])
@pytest.mark.parametrize("problem", list(PROBLEMS))
async def test_a_problem_in_a_later_chunk_stores_nothing(
    stub: Any, server: GroveServer, summary_only: bool, problem: str
) -> None:
    await stub.ImportConversation(_varied(10))  # something there already
    before = _stored(server.config.db)
    request = _varied(importing.BATCH * 2 + 500)
    request.summary_only = summary_only
    change, expected = PROBLEMS[problem]
    change(request)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ImportConversationStream(iter(list(request_chunks(request, 300))))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in (raised.value.details() or "")
    assert _stored(server.config.db) == before


def _chunks_of(size: int, count: int, per_chunk: int = 100) -> list[chat_pb2.ImportChunk]:
    chunks = list(request_chunks(_varied(size), per_chunk))
    chunks[0].response_count = count
    return chunks


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (
            lambda: _chunks_of(350, 300),
            "The import sent more responses than the 300 its first chunk announced.",
        ),
        (
            lambda: _chunks_of(350, 400),
            "The import sent 350 responses, not the 400 its first chunk announced.",
        ),
        (
            lambda: _chunks_of(5, -1),
            "The first chunk's response_count must not be negative, not -1.",
        ),
        (
            lambda: _chunks_of(5, importing.MAX_IMPORT_RESPONSES + 1),
            f"An import may hold at most {importing.MAX_IMPORT_RESPONSES} responses, not "
            f"{importing.MAX_IMPORT_RESPONSES + 1}.",
        ),
        (
            lambda: [],
            "An import stream needs at least one chunk: the first names the title and how "
            "many responses the import holds.",
        ),
    ],
    ids=["more", "fewer", "negative", "too many", "no chunk"],
)
async def test_a_stream_that_breaks_its_count_is_refused(
    stub: Any, server: GroveServer, chunks: Callable[[], list[chat_pb2.ImportChunk]], expected: str
) -> None:
    before = _stored(server.config.db)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ImportConversationStream(iter(chunks()))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == expected
    assert _stored(server.config.db) == before


async def test_tokens_sent_with_another_chunk_than_their_response_are_refused(
    stub: Any, server: GroveServer
) -> None:
    """A chunk carries its own responses' tokens: tokens of an earlier one are named."""
    request = _with_tokens(40)
    chunks = list(request_chunks(request, 10))
    moved = next(iter(chunks[0].part.tokens))
    chunks[2].part.tokens[moved].CopyFrom(chunks[0].part.tokens[moved])
    del chunks[0].part.tokens[moved]
    before = _stored(server.config.db)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ImportConversationStream(iter(chunks))
    assert raised.value.details() == (
        f"The tokens of response {moved!r} came in another chunk than the response: a chunk "
        "carries the tokens of its own responses."
    )
    assert _stored(server.config.db) == before


async def test_a_client_that_cancels_half_way_stores_nothing(
    stub: Any, server: GroveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server has inserted batches when the client goes: the transaction is undone."""
    inserted = asyncio.Event()
    insert = imports._insert_and_index

    async def noted(*args: Any) -> None:
        await insert(*args)
        inserted.set()

    monkeypatch.setattr(imports, "_insert_and_index", noted)
    before = _stored(server.config.db)
    chunks = list(request_chunks(_varied(importing.BATCH * 3), 500))
    call = stub.ImportConversationStream()
    for chunk in chunks[:-1]:  # every chunk but the last: the server waits for it
        await call.write(chunk)
    await inserted.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    created = await stub.ImportConversation(_varied(10))  # the store is usable after
    assert created.response_count == 10
    after = _stored(server.config.db)
    assert after["responses"][: len(before["responses"])] == before["responses"]
    assert len(after["responses"]) == len(before["responses"]) + 10
    assert after["conversations"][: len(before["conversations"])] == before["conversations"]
    assert len(after["conversations"]) == len(before["conversations"]) + 1


async def test_the_sdk_imports_in_chunks_with_the_unary_calls_errors(client: Client) -> None:
    request = _with_tokens(importing.BATCH + 10)
    conversation = await client.grok.import_conversation(request)
    assert [r.message for r in conversation.responses] == [r.message for r in request.responses]
    bad = _varied(importing.BATCH + 10)
    bad.responses[-1].sender = "robot"
    with pytest.raises(InvalidArgumentError, match="sender must be human or model, not 'robot'"):
        await client.grok.import_conversation_wire(bad, summary_only=True)


def test_the_chunks_of_a_request_join_back_into_it() -> None:
    request = _with_tokens(95)
    request.tokens["ghost"].tokens.add()  # kept (with the last chunk) for the server to name
    request.summary_only = True
    chunks = list(request_chunks(request, 20))
    assert [len(c.part.responses) for c in chunks] == [20, 20, 20, 20, 15]
    assert [c.response_count for c in chunks] == [95, 0, 0, 0, 0]
    assert "ghost" in chunks[-1].part.tokens
    assert joined(chunks) == request


async def test_an_older_server_gets_the_unary_import(
    server_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server from before the streaming call answers UNIMPLEMENTED, as gRPC does."""

    async def unknown(self: Any, chunks: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")

    monkeypatch.setattr(ChatServicer, "ImportConversationStream", unknown)
    running = GroveServer(server_config)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            request = _with_tokens(importing.BATCH + 10)
            conversation = await sdk.grok.import_conversation(request)
            assert len(conversation.responses) == len(request.responses)
            listed = await sdk.stub.ListConversations(empty_pb2.Empty())
            assert [c.response_count for c in listed.conversations] == [len(request.responses)]
    finally:
        await running.stop()


async def test_an_import_checkpoints_after_its_commit(stub: Any, server: GroveServer) -> None:
    """The import commits without the automatic checkpoint, then runs it and restores it.

    Only a checkpoint writes pages into the database file (a commit writes the log), so
    the file grows by the import once the checkpoint scheduled after it has run.
    """
    db = server.config.db
    before = db.stat().st_size
    await stub.ImportConversation(_varied(importing.BATCH * 3))
    await asyncio.gather(*list(imports._CHECKPOINTS))
    assert db.stat().st_size > before + 100_000
    writer: Any = server.store._writer  # type: ignore[attr-defined]
    assert list(await writer.execute_fetchall("PRAGMA wal_autocheckpoint")) == [(1000,)]
