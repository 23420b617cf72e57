"""Live shared trees: `Conversation.watch()` against a real server and SQLite file.

Two SDK clients: one watches, the other changes the conversation. The watcher must see
every change, and a reply's text with no gap — also when it joins mid-reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.client.conversation import Conversation
from grove_explorer.client.errors import NotFoundError, ServerUnavailableError, WatchTooSlowError
from grove_explorer.client.own_requests import OwnRequests
from grove_explorer.client.watching import (
    AnnotationChanged,
    ConversationGone,
    ReplyFinished,
    ReplyStarted,
    ReplyText,
    ResponseStored,
    TitleChanged,
    WatchEvent,
    WatchStarted,
    watch_events,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.auth import LOCAL_USER, hash_key
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store import Checkpoint, NewResponse
from tests.helpers import collect


class Watcher:
    """Reads a watch in a task, so the test can wait for the events it expects."""

    def __init__(self, events: AsyncIterator[WatchEvent]) -> None:
        self.events: list[WatchEvent] = []
        self._iterator = events
        self._arrived = asyncio.Condition()
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self._iterator:
                async with self._arrived:
                    self.events.append(event)
                    self._arrived.notify_all()
        except Exception as error:
            self.error = error
        finally:
            async with self._arrived:
                self._arrived.notify_all()

    async def until(self, done: Callable[[list[WatchEvent]], bool]) -> list[WatchEvent]:
        """Waits until `done(events)` holds (or the watch ends)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: done(self.events) or self.task.done())
        assert self.error is None, self.error
        return list(self.events)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def other_handle(client: Client, conversation_id: str) -> Conversation:
    return await client.grok.get_conversation(conversation_id)


async def start_watch(conversation: Conversation) -> Watcher:
    watcher = Watcher(conversation.watch())
    await watcher.until(lambda events: any(isinstance(e, WatchStarted) for e in events))
    return watcher


def finished(events: list[WatchEvent]) -> list[ReplyFinished]:
    return [e for e in events if isinstance(e, ReplyFinished)]


async def test_watcher_sees_another_clients_message_and_streamed_reply(
    server: GroveServer, client: Client
) -> None:
    mine = client.grok.create_conversation()
    await mine.ensure_created()
    watcher = await start_watch(mine)
    started = watcher.events[0]
    assert isinstance(started, WatchStarted) and started.replies == ()
    assert started.response_count == 0

    other_client = Client(api_host=server.address)
    try:
        theirs = await other_handle(other_client, mine.conversation_id)
        stream, future = theirs.add_response("Tell me about beech trees.")
        streamed = await collect(stream)
        reply = await future
    finally:
        await other_client.close()

    events = await watcher.until(lambda events: bool(finished(events)))
    await watcher.close()
    stored = [e for e in events if isinstance(e, ResponseStored)]
    assert [s.node.message for s in stored] == ["Tell me about beech trees."]
    assert stored[0].actor == started.watcher and not stored[0].own
    starts = [e for e in events if isinstance(e, ReplyStarted)]
    assert len(starts) == 1 and starts[0].parent_id == stored[0].node.response_id
    texts = [e for e in events if isinstance(e, ReplyText)]
    assert len(texts) > 1, "the reply streams to the watcher, not only its end"
    assert [t.offset for t in texts] == [
        sum(len(t.text) for t in texts[:i]) for i in range(len(texts))
    ]
    assert "".join(t.text for t in texts) == streamed == reply.message
    (end,) = finished(events)
    assert end.node is not None and end.node.response_id == reply.response_id
    assert end.node.message == reply.message and not end.node.partial
    assert end.node.finish_reason == reply.finish_reason
    # In order: the human message, the start, the text, the end.
    kinds = [type(e) for e in events]
    assert kinds.index(ResponseStored) < kinds.index(ReplyStarted) < kinds.index(ReplyText)
    assert kinds[-1] is ReplyFinished


async def test_own_streams_are_marked_own(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    watcher = await start_watch(conversation)
    stream, future = conversation.add_response("A question of my own.")
    await collect(stream)
    await future
    events = await watcher.until(lambda events: bool(finished(events)))
    await watcher.close()
    changes = [e for e in events if not isinstance(e, WatchStarted)]
    assert changes and all(getattr(e, "own", False) for e in changes)
    assert not [e for e in changes if isinstance(e, ReplyText)], "its text came on its stream"
    assert [type(e) for e in changes] == [ResponseStored, ReplyStarted, ReplyFinished]


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    """Slow, long replies: a watcher can join while one is being sampled."""
    return replace(server_config, token_delay_ms=4.0, offline_min_reply_tokens=160)


async def test_watcher_joining_mid_reply_gets_the_text_so_far_then_the_rest(
    server: GroveServer, client: Client
) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    stream, future = conversation.add_response("Write at length about moss.")
    received: list[str] = []
    iterator = aiter(stream)
    while len(received) < 5:
        received.append(await anext(iterator))

    async with Client(api_host=server.address) as other:
        watcher = await start_watch(await other_handle(other, conversation.conversation_id))
        started = watcher.events[0]
        assert isinstance(started, WatchStarted)
        (live,) = started.replies
        assert live.text and not live.own and live.model_name
        rest = "".join([token async for token in iterator])
        reply = await future
        events = await watcher.until(lambda events: bool(finished(events)))
        await watcher.close()
    texts = [e for e in events if isinstance(e, ReplyText) and e.stream_id == live.stream_id]
    assert texts and texts[0].offset == len(live.text), "no gap after the snapshot"
    assert live.text + "".join(t.text for t in texts) == reply.message
    assert "".join(received) + rest == reply.message
    (end,) = finished(events)
    assert end.node is not None and end.node.message == reply.message


async def test_title_star_annotation_added_response_and_deletion(
    server: GroveServer, client: Client
) -> None:
    mine = client.grok.create_conversation()
    stream, future = mine.add_response("Something to annotate.")
    await collect(stream)
    reply = await future
    watcher = await start_watch(mine)

    other_client = Client(api_host=server.address)
    try:
        theirs = await other_handle(other_client, mine.conversation_id)
        await theirs.set_title("Renamed elsewhere")
        await theirs.star()
        await theirs.get_response(reply.response_id).annotate(tags=["moss"], rating=1)
        manual_stream, manual_future = theirs.get_response(reply.response_id).replace("Edited.")
        await collect(manual_stream)
        manual = await manual_future
        await theirs.delete()
    finally:
        await other_client.close()

    events = await watcher.until(lambda events: isinstance(events[-1], ConversationGone))
    await asyncio.wait_for(watcher.task, 10)  # the watch ends after the deletion
    titles = [e for e in events if isinstance(e, TitleChanged)]
    assert [(t.title, t.starred) for t in titles] == [
        ("Renamed elsewhere", False),
        ("Renamed elsewhere", True),
    ]
    (note,) = [e for e in events if isinstance(e, AnnotationChanged)]
    assert note.response_id == reply.response_id
    assert note.annotation.tags == ("moss",) and note.annotation.rating == 1
    stored = [e.node for e in events if isinstance(e, ResponseStored)]
    assert [(n.response_id, n.message, n.manual) for n in stored] == [
        (manual.response_id, "Edited.", True)
    ]
    assert isinstance(events[-1], ConversationGone)


async def test_another_users_conversation_is_not_found(tmp_path: object) -> None:
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "grove.sqlite3",  # type: ignore[operator]
        api_keys={hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"},
    )
    server = GroveServer(config)
    await server.start()
    alice = Client(api_key="key-alice", api_host=server.address)
    bob = Client(api_key="key-bob", api_host=server.address)
    try:
        hers = alice.grok.create_conversation()
        await hers.ensure_created()
        # Bob names her conversation: the same answer as a missing one (the raw status,
        # then the SDK's typed error).
        stub = chat_pb2_grpc.ChatStub(bob._channel)
        call = stub.WatchConversation(
            chat_pb2.WatchConversationRequest(conversation_id=hers.conversation_id),
            metadata=(("authorization", "Bearer key-bob"),),
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call.read()
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        bobs_stub = bob._stub
        with pytest.raises(NotFoundError, match="does not exist"):
            async for _ in watch_events(bobs_stub, hers.conversation_id, OwnRequests()):
                pass
    finally:
        await alice.close()
        await bob.close()
        await server.stop()


async def test_a_slow_watcher_is_ended_and_the_sampler_is_not(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server(watch_max_pending_events=8, offline_min_reply_tokens=400)
    await server.start()
    sampler_client = Client(api_host=server.address)
    # A watcher whose connection takes little before the server must wait for it to read.
    channel = grpc.aio.insecure_channel(
        server.address,
        options=[("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)],
    )
    try:
        conversation = sampler_client.grok.create_conversation()
        await conversation.ensure_created()
        call = chat_pb2_grpc.ChatStub(channel).WatchConversation(
            chat_pb2.WatchConversationRequest(conversation_id=conversation.conversation_id)
        )
        first = await call.read()  # subscribed; from now on it reads nothing
        assert first.HasField("started")
        texts = []
        for turn in range(3):
            stream, future = conversation.add_response(f"Turn {turn}: write a long story.")
            texts.append(await collect(stream))
            assert (await future).message == texts[-1] and not (await future).partial
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            while True:
                await call.read()
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "fell more than 8 events behind" in (raised.value.details() or "")
        # The SDK's word for it.
        handle = await sampler_client.grok.get_conversation(conversation.conversation_id)
        assert [len(r.message) for r in handle.responses if r.sender == "model"] == [
            len(t) for t in texts
        ]
    finally:
        await channel.close()
        await sampler_client.close()
        await server.stop()


async def test_sdk_raises_watch_too_slow(make_server: Callable[..., GroveServer]) -> None:
    """The SDK turns the server's RESOURCE_EXHAUSTED of a watch into WatchTooSlowError."""
    server = make_server(watch_max_pending_events=1)
    await server.start()
    client = Client(api_host=server.address)
    try:
        conversation = client.grok.create_conversation()
        await conversation.ensure_created()
        events = conversation.watch()
        assert isinstance(await anext(events), WatchStarted)
        # Two events published before the watcher's server-side loop runs again.
        feed = server.servicer.feed
        for _ in range(3):
            event = chat_pb2.ConversationEvent(conversation_id=conversation.conversation_id)
            event.conversation_changed.SetInParent()
            feed.publish(conversation.conversation_id, event)
        with pytest.raises(WatchTooSlowError, match="fell more than 1 events behind"):
            while True:
                await anext(events)
    finally:
        await client.close()
        await server.stop()


async def test_shutdown_ends_a_watch_as_unavailable(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server()
    await server.start()
    client = Client(api_host=server.address)
    try:
        conversation = client.grok.create_conversation()
        await conversation.ensure_created()
        events = conversation.watch()
        assert isinstance(await anext(events), WatchStarted)
        await server.stop()
        with pytest.raises(ServerUnavailableError, match="shutting down"):
            await anext(events)
    finally:
        await client.close()
        await server.stop()


async def test_a_reply_recovered_from_a_dead_servers_checkpoint_is_announced(
    server: GroveServer, client: Client
) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("Interrupted elsewhere.")
    await collect(stream)
    human = (await future).parent_response_id
    assert human is not None
    watcher = await start_watch(conversation)
    # What a server that died mid-reply left on this database (another process's owner).
    new = NewResponse(conversation.conversation_id, "half a reply", "model", human)
    await server.store.save_checkpoints([Checkpoint("k1", LOCAL_USER, new)], owner="gone")
    await server._recover_orphans()  # what its sweep does every few seconds
    events = await watcher.until(lambda seen: isinstance(seen[-1], ResponseStored))
    await watcher.close()
    recovered = events[-1]
    assert isinstance(recovered, ResponseStored)
    assert recovered.node.message == "half a reply" and recovered.node.partial
