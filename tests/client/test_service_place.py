"""Keep my place, through the service the app uses: moves reach the server, reopening
shows them, replies the user follows move the place and background ones never do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.service import ConversationService, ResponseAdded
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests import both_stores

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server

SHORT = SamplingParams(max_tokens=30)


@pytest.fixture
async def slow(make_server) -> AsyncIterator[GroveServer]:
    running = make_server(token_delay_ms=15.0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client_of_slow(slow: GroveServer) -> AsyncIterator[Client]:
    async with Client(api_host=slow.address) as sdk:
        yield sdk


async def _stored(client: Client, cid: str) -> str | None:
    wire = await client.stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    return wire.leaf_response_id if wire.HasField("leaf_response_id") else None


async def _placeholder_started(service: ConversationService) -> asyncio.Future[str]:
    """A future that resolves to the id of the next streaming placeholder published."""
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def listen(event: object) -> None:
        if isinstance(event, ResponseAdded) and event.node.streaming and not started.done():
            started.set_result(event.node.response_id)

    service.subscribe(listen)
    return started


async def test_selection_and_siblings_are_stored_and_reopened(client: Client) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "Tell me about oaks.", None)
    assert first is not None and await _stored(client, cid) == first.response_id
    resampled = await service.resample(cid, first.response_id)
    assert resampled is not None and await _stored(client, cid) == resampled.response_id
    leaf = service.switch_sibling(cid, resampled.response_id, -1)
    assert leaf == first.response_id
    await service.leaf_saved(cid)
    assert await _stored(client, cid) == first.response_id
    # Compare's parallel resamples never move it.
    batch = await service.resample_many(cid, first.response_id, 3)
    assert all(batch) and await _stored(client, cid) == first.response_id
    # Another service (another app, or this one after F5) opens on the stored place.
    other = ConversationService(client)
    reopened = await other.open(cid)
    assert reopened.leaf_id == first.response_id
    human = first.parent_id
    assert human is not None
    service.select(cid, human)
    reloaded = await service.open(cid)  # F5: the pending choice is sent before the reload
    assert reloaded.leaf_id == human


async def test_moving_away_while_a_reply_streams_keeps_the_users_choice(
    client_of_slow: Client,
) -> None:
    service = ConversationService(client_of_slow)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "Tell me about oaks.", None, sampling=SHORT)
    assert first is not None
    started = await _placeholder_started(service)
    task = asyncio.create_task(service.send(cid, "And maples?", first.response_id, sampling=SHORT))
    await started
    service.select(cid, first.response_id)  # the user reads the older reply meanwhile
    reply = await task
    assert reply is not None
    await service.leaf_saved(cid)
    assert service.forest(cid).leaf_id == first.response_id
    assert await _stored(client_of_slow, cid) == first.response_id


async def test_returning_to_the_streaming_reply_follows_it(client_of_slow: Client) -> None:
    service = ConversationService(client_of_slow)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "Tell me about oaks.", None, sampling=SHORT)
    assert first is not None
    started = await _placeholder_started(service)
    task = asyncio.create_task(service.resample(cid, first.response_id, sampling=SHORT))
    placeholder = await started
    service.select(cid, first.response_id)
    await service.leaf_saved(cid)
    service.select(cid, placeholder)  # back to the reply being written
    reply = await task
    assert reply is not None
    await service.leaf_saved(cid)
    assert service.forest(cid).leaf_id == reply.response_id
    assert await _stored(client_of_slow, cid) == reply.response_id
