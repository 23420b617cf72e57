"""Live shared trees across replicas: two servers, each with its own PostgreSQL feed.

Both servers share one database of conversations and one real PostgreSQL database for
their feeds (each a `PostgresFeed`, as `grove serve --db postgresql://…` builds). A
client samples, renames, annotates or deletes through replica A; another watches through
replica B and must see it all — a reply's text in order with no hole, also when it joins
mid-reply (replica A's catch-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import psycopg
import pytest

from grove_explorer.client import Client
from grove_explorer.client.errors import ServerUnavailableError
from grove_explorer.client.watching import (
    AnnotationChanged,
    ConversationGone,
    ReplyStarted,
    ReplyText,
    ResponseStored,
    TitleChanged,
    WatchStarted,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.location import PostgresUrl
from tests.client.test_watch import finished, other_handle, start_watch
from tests.helpers import collect


@dataclass
class Replicas:
    a: GroveServer
    b: GroveServer
    client_a: Client
    client_b: Client


MakeReplicas = Callable[..., Awaitable[Replicas]]


@pytest.fixture
async def make_replicas(tmp_path: Path, postgres_url: PostgresUrl) -> AsyncIterator[MakeReplicas]:
    """Starts two replicas (settings apply to both; `b_settings` to B only)."""
    running: list[GroveServer] = []
    clients: list[Client] = []

    async def build(b_settings: dict[str, object] | None = None, **settings: object) -> Replicas:
        base = replace(
            ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3"), **settings
        )
        servers = []
        for config in (base, replace(base, **(b_settings or {}))):
            feed = PostgresFeed(postgres_url, max_pending=config.watch_max_pending_events)
            server = GroveServer(config, feed=feed)
            await server.start()
            running.append(server)
            servers.append(server)
        for server in servers:
            clients.append(Client(api_host=server.address))
        return Replicas(servers[0], servers[1], clients[-2], clients[-1])

    try:
        yield build
    finally:
        for client in clients:
            await client.close()
        for server in running:
            await server.stop()


def stream_texts(events: list[object], stream_id: str) -> list[ReplyText]:
    return [e for e in events if isinstance(e, ReplyText) and e.stream_id == stream_id]


def assert_contiguous(texts: list[ReplyText]) -> None:
    assert [t.offset for t in texts] == [
        sum(len(t.text) for t in texts[:i]) for i in range(len(texts))
    ]


async def test_a_reply_sampled_on_a_streams_to_a_watcher_on_b(make_replicas: MakeReplicas) -> None:
    replicas = await make_replicas()
    mine = replicas.client_b.grok.create_conversation()
    await mine.ensure_created()
    watcher = await start_watch(mine)
    feed_a = replicas.a.servicer.feed
    assert isinstance(feed_a, PostgresFeed)
    await feed_a.until(lambda feed: mine.conversation_id in feed.remote_watched)

    theirs = await other_handle(replicas.client_a, mine.conversation_id)
    stream, future = theirs.add_response("Tell me about beech trees.")
    streamed = await collect(stream)
    reply = await future

    events = await watcher.until(lambda events: bool(finished(events)))
    await watcher.close()
    stored = [e for e in events if isinstance(e, ResponseStored)]
    assert [s.node.message for s in stored] == ["Tell me about beech trees."]
    (start,) = [e for e in events if isinstance(e, ReplyStarted)]
    texts = stream_texts(events, start.stream_id)
    assert len(texts) > 1, "the reply streams across replicas, not only its end"
    assert_contiguous(texts)
    assert "".join(t.text for t in texts) == streamed == reply.message
    (end,) = finished(events)
    assert end.node is not None and end.node.response_id == reply.response_id


async def test_a_watcher_joining_b_mid_reply_on_a_gets_the_whole_text(
    make_replicas: MakeReplicas,
) -> None:
    replicas = await make_replicas(token_delay_ms=4.0, offline_min_reply_tokens=160)
    conversation = replicas.client_a.grok.create_conversation()
    await conversation.ensure_created()
    stream, future = conversation.add_response("Write at length about moss.")
    received: list[str] = []
    iterator = aiter(stream)
    while len(received) < 5:
        received.append(await anext(iterator))

    watcher = await start_watch(await other_handle(replicas.client_b, conversation.conversation_id))
    started = watcher.events[0]
    assert isinstance(started, WatchStarted) and started.replies == (), "B samples nothing"
    rest = "".join([token async for token in iterator])
    reply = await future
    events = await watcher.until(lambda events: bool(finished(events)))
    await watcher.close()

    (start,) = [e for e in events if isinstance(e, ReplyStarted)]
    texts = stream_texts(events, start.stream_id)
    assert texts[0].offset == 0, "A's catch-up brings the text from its start"
    assert_contiguous(texts)
    assert "".join(t.text for t in texts) == reply.message == "".join(received) + rest
    (end,) = finished(events)
    assert end.node is not None and end.node.message == reply.message


async def test_a_catch_up_for_a_new_watcher_doubles_nothing_for_an_old_one(
    make_replicas: MakeReplicas,
) -> None:
    """W1 watches on B from the start; W2 joins B mid-reply: A's catch-up reaches both."""
    replicas = await make_replicas(token_delay_ms=4.0, offline_min_reply_tokens=160)
    conversation = replicas.client_a.grok.create_conversation()
    await conversation.ensure_created()
    async with Client(api_host=replicas.b.address) as other:
        first = await start_watch(await other_handle(other, conversation.conversation_id))
        feed_a = replicas.a.servicer.feed
        assert isinstance(feed_a, PostgresFeed)
        await feed_a.until(lambda feed: conversation.conversation_id in feed.remote_watched)
        stream, future = conversation.add_response("Write at length about lichen.")
        iterator = aiter(stream)
        for _ in range(5):
            await anext(iterator)
        second = await start_watch(await other_handle(other, conversation.conversation_id))
        async for _token in iterator:
            pass
        reply = await future
        for watcher in (first, second):
            events = await watcher.until(lambda events: bool(finished(events)))
            await watcher.close()
            (start,) = [e for e in events if isinstance(e, ReplyStarted)]
            texts = stream_texts(events, start.stream_id)
            assert texts[0].offset == 0
            assert_contiguous(texts)
            assert "".join(t.text for t in texts) == reply.message


async def test_title_star_annotation_and_deletion_through_a_reach_b(
    make_replicas: MakeReplicas,
) -> None:
    replicas = await make_replicas()
    mine = replicas.client_b.grok.create_conversation()
    stream, future = mine.add_response("Something to annotate.")
    await collect(stream)
    reply = await future
    watcher = await start_watch(mine)

    def count(kind: type) -> Callable[[list[object]], int]:
        return lambda events: sum(isinstance(e, kind) for e in events)

    # Events name rows that B reads when they arrive: each change is awaited before the
    # next, or B would read the conversation as the last change left it (deleted).
    theirs = await other_handle(replicas.client_a, mine.conversation_id)
    await theirs.set_title("Renamed elsewhere")
    await watcher.until(lambda events: count(TitleChanged)(events) == 1)
    await theirs.star()
    await watcher.until(lambda events: count(TitleChanged)(events) == 2)
    await theirs.get_response(reply.response_id).annotate(tags=["moss"], rating=1)
    await watcher.until(lambda events: count(AnnotationChanged)(events) == 1)
    await theirs.delete()

    events = await watcher.until(lambda events: isinstance(events[-1], ConversationGone))
    await asyncio.wait_for(watcher.task, 10)  # the watch ends after the deletion
    titles = [(e.title, e.starred) for e in events if isinstance(e, TitleChanged)]
    assert titles == [("Renamed elsewhere", False), ("Renamed elsewhere", True)]
    (note,) = [e for e in events if isinstance(e, AnnotationChanged)]
    assert note.response_id == reply.response_id and note.annotation.tags == ("moss",)


async def test_a_slow_watcher_on_b_is_ended_and_a_samples_on(make_replicas: MakeReplicas) -> None:
    replicas = await make_replicas(
        b_settings={"watch_max_pending_events": 8}, offline_min_reply_tokens=400
    )
    channel = grpc.aio.insecure_channel(
        replicas.b.address,
        options=[("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)],
    )
    try:
        conversation = replicas.client_a.grok.create_conversation()
        await conversation.ensure_created()
        call = chat_pb2_grpc.ChatStub(channel).WatchConversation(
            chat_pb2.WatchConversationRequest(conversation_id=conversation.conversation_id)
        )
        first = await call.read()  # subscribed on B; from now on it reads nothing
        assert first.HasField("started")
        feed_a = replicas.a.servicer.feed
        assert isinstance(feed_a, PostgresFeed)
        await feed_a.until(lambda feed: conversation.conversation_id in feed.remote_watched)
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
    finally:
        await channel.close()


async def test_a_replica_losing_the_feed_ends_its_watches_as_unavailable(
    make_replicas: MakeReplicas, postgres_url: PostgresUrl
) -> None:
    replicas = await make_replicas()
    conversation = replicas.client_b.grok.create_conversation()
    await conversation.ensure_created()
    events = conversation.watch()
    assert isinstance(await anext(events), WatchStarted)
    feed_b = replicas.b.servicer.feed
    assert isinstance(feed_b, PostgresFeed) and feed_b._listen_conn is not None
    pid = feed_b._listen_conn.info.backend_pid
    async with await psycopg.AsyncConnection.connect(postgres_url.url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ServerUnavailableError, match="changes made through them may have"):
        await anext(events)
    # Back once the feed is: a new watch works and hears replica A again.
    await feed_b.until(lambda feed: feed.listening)
    watcher = await start_watch(conversation)
    theirs = await other_handle(replicas.client_a, conversation.conversation_id)
    await theirs.set_title("Heard again")
    titles = await watcher.until(lambda events: any(isinstance(e, TitleChanged) for e in events))
    await watcher.close()
    assert [e.title for e in titles if isinstance(e, TitleChanged)] == ["Heard again"]
