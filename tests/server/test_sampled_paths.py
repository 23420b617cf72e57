"""The path a reply is sampled from, turn after turn at depth (kept messages, not rebuilt).

The servicer keeps the messages of recent paths and extends them by one per stored
response; these tests pin that the sampler still sees exactly the stored path root →
parent, whether the turn extends the last reply, branches from an older response, answers
a hand-written reply, resamples under a human message, or follows a stopped reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc, sampler_public_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import PathMessage, ResolvedParams, SampleEvent
from grove_explorer.server.sampler.offline import OfflineSampler
from tests.server.test_deep_paths import _chain


class RecordingSampler(OfflineSampler):
    """The offline model, remembering every path it was asked to continue."""

    def __init__(self) -> None:
        super().__init__(model_name="recording")
        self.paths: list[list[PathMessage]] = []

    async def sample(
        self, path: Sequence[PathMessage], params: ResolvedParams, **options: Any
    ) -> AsyncGenerator[SampleEvent, None]:
        self.paths.append(list(path))
        async for event in super().sample(path, params, **options):
            yield event


@pytest.fixture
async def recording(tmp_path: Path) -> AsyncIterator[tuple[Any, RecordingSampler]]:
    sampler = RecordingSampler()
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    server = GroveServer(config, samplers={"recording": sampler}, default_model="recording")
    await server.start()
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel), sampler
    finally:
        await channel.close()
        await server.stop()


async def _turn(stub: Any, cid: str, parent: str, message: str) -> chat_pb2.Response:
    """One AddResponse; returns the stored reply."""
    reply = None
    async for item in stub.AddResponse(
        chat_pb2.AddResponseRequest(
            conversation_id=cid,
            message=message,
            parent_response_id=parent,
            sampling_params=sampler_public_pb2.SamplingParams(max_tokens=3, seed=2),
        )
    ):
        if item.HasField("model_response"):
            reply = item.model_response
    assert reply is not None
    return reply


async def _stored_path(stub: Any, cid: str, response_id: str) -> list[PathMessage]:
    listed = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    by_id = {r.response_id: r for r in listed.responses}
    path: list[PathMessage] = []
    current = response_id
    while current:
        record = by_id[current]
        path.append(PathMessage(record.sender, record.message))
        current = record.parent_response_id
    return path[::-1]


async def test_every_turn_samples_from_the_stored_path(
    recording: tuple[Any, RecordingSampler],
) -> None:
    stub, sampler = recording
    created = await stub.ImportConversation(_chain(301))
    cid = created.conversation_id
    leaf = created.responses[-1].response_id
    middle = created.responses[150].response_id

    async def check(parent: str, message: str) -> chat_pb2.Response:
        reply = await _turn(stub, cid, parent, message)
        human = reply.parent_response_id
        expected = await _stored_path(stub, cid, human if message else parent)
        assert sampler.paths[-1] == expected
        assert len(expected) == len(await _stored_path(stub, cid, reply.response_id)) - 1
        return reply

    reply = await check(leaf, "first")  # the import's path, read from the store
    for turn in range(4):  # each extends the previous reply: kept messages plus two
        reply = await check(reply.response_id, f"turn {turn}")
    assert len(sampler.paths[-1]) == 301 + 5 * 2 - 1
    branched = await check(middle, "a branch from the middle")
    await check(reply.response_id, "back on the long path")
    await check(branched.response_id, "on the branch again")
    resampled = await check(branched.parent_response_id, "")  # no message: under the human
    assert sampler.paths[-1][-1] == PathMessage("human", "a branch from the middle")
    manual = await stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=cid, message="written by hand", parent_response_id=resampled.response_id
        )
    )
    await check(manual.response_id, "after the hand-written reply")
    assert sampler.paths[-1][-2] == PathMessage("model", "written by hand")


async def test_paths_of_two_conversations_do_not_mix(
    recording: tuple[Any, RecordingSampler],
) -> None:
    stub, sampler = recording
    first = await stub.ImportConversation(_chain(40))
    second = await stub.ImportConversation(_chain(41, words=2))
    one = await _turn(stub, first.conversation_id, first.responses[-1].response_id, "x")
    two = await _turn(stub, second.conversation_id, second.responses[-1].response_id, "x")
    await _turn(stub, first.conversation_id, one.response_id, "y")
    assert sampler.paths[-1] == await _stored_path(stub, first.conversation_id, one.response_id) + [
        PathMessage("human", "y")
    ]
    await _turn(stub, second.conversation_id, two.response_id, "y")
    assert sampler.paths[-1] == await _stored_path(
        stub, second.conversation_id, two.response_id
    ) + [PathMessage("human", "y")]


async def test_parallel_siblings_and_turns_under_each_sample_their_own_paths(
    recording: tuple[Any, RecordingSampler],
) -> None:
    """Replies stored at once under one parent extend one kept path (the first appends to
    it, the others branch off): a turn under each still samples exactly its stored path."""
    stub, sampler = recording
    created = await stub.ImportConversation(_chain(120))
    cid = created.conversation_id
    first = await _turn(stub, cid, created.responses[-1].response_id, "the shared question")
    human = first.parent_response_id
    siblings = await asyncio.gather(*(_turn(stub, cid, human, "") for _ in range(4)))
    expected_above = await _stored_path(stub, cid, human)
    assert all(path == expected_above for path in sampler.paths[-4:])
    for index, sibling in enumerate((first, *siblings)):
        await _turn(stub, cid, sibling.response_id, f"under sibling {index}")
        stored = await _stored_path(stub, cid, sibling.response_id)
        assert sampler.paths[-1] == [*stored, PathMessage("human", f"under sibling {index}")]
