"""The reply to ImportConversation is the conversation as GetConversation reads it back.

The server answers an import from the records it wrote (no second read of every row):
these tests pin that the reply's responses, their order, ids, parents, times, flags,
sampling, finish reasons, annotations and sharing equal what a later read returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.runtime import GroveServer
from tests.server.test_research import valid_import


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[Any]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


def _varied(size: int) -> chat_pb2.ImportConversationRequest:
    """Branches, sampled and manual replies, annotations, sharing, finish reasons."""
    request = chat_pb2.ImportConversationRequest(title="varied", starred=True)
    for i in range(size):
        human = i % 2 == 0
        parent = "" if i == 0 else f"r{i - 1}" if i % 7 else f"r{max(0, i - 3) // 2 * 2}"
        if not human and parent and int(parent[1:]) % 2 == 1:
            parent = f"r{int(parent[1:]) - 1}"
        if human and parent and int(parent[1:]) % 2 == 0:
            parent = f"r{int(parent[1:]) + 1}" if int(parent[1:]) + 1 < i else ""
        wire = chat_pb2.Response(
            response_id=f"r{i}",
            parent_response_id=parent,
            sender="human" if human else "model",
            message=f"message {i} with words",
            manual=not human and i % 5 == 0,
            shared=False,
        )
        if not human and not wire.manual:
            wire.model_name = "elsewhere"
            wire.sampling_params.CopyFrom(
                sampler_public_pb2.SamplingParams(
                    temperature=0.5, top_p=0.9, max_tokens=50, seed=2**64 - 1 - i
                )
            )
            wire.finish_reason = chat_pb2.FINISH_REASON_STOP if i % 3 else 0
            wire.token_count = 4
            wire.time_to_first_token_seconds = 0.25
            wire.total_time_seconds = 1.5
        if i % 4 == 0:
            wire.annotation.CopyFrom(
                chat_pb2.Annotation(bookmarked=True, tags=["b", "a"], rating=-1, note="n")
            )
        request.responses.append(wire)
    return request


@pytest.mark.parametrize("build", [valid_import, lambda: _varied(60)], ids=["small", "varied"])
async def test_the_import_reply_equals_the_conversation_read_back(stub: Any, build: Any) -> None:
    request = build()
    created = await stub.ImportConversation(request)
    loaded = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=created.conversation_id)
    )
    assert len(created.responses) == len(request.responses)
    assert list(created.responses) == list(loaded.responses)
    for field in ("conversation_id", "title", "starred", "create_time", "response_count"):
        assert getattr(created, field) == getattr(loaded, field), field
    assert [r.message for r in created.responses] == [r.message for r in request.responses]
