"""The PostgreSQL change feed alone: two feeds (two replicas) on one real database.

What crosses: events in publish order, batched into few NOTIFY statements; a watch
announced to the other replica; a lost LISTEN connection ends the watches it may have
cost events. The merge of one watcher's remote replies is tested on its own below.
"""

from __future__ import annotations

import base64
import math
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from grove_explorer.protos import chat_pb2
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.live import MAX_EVENT_BYTES, FeedClosed, InProcessFeed
from grove_explorer.server.live.postgres_feed import PostgresFeed, WatchLost
from grove_explorer.server.live.remote_merge import (
    NEW_WATCHES,
    RemoteMerge,
    TextGap,
    catch_up_events,
    decode,
    decode_event,
    decode_ids,
    encode_id_lists,
)
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.location import PostgresUrl
from tests.postgres_server import PostgresCluster

CID = "conversation-1"


def started(stream: str = "s1") -> chat_pb2.ConversationEvent:
    event = chat_pb2.ConversationEvent(conversation_id=CID)
    event.reply_started.stream_id = stream
    return event


def text(offset: int, piece: str, stream: str = "s1") -> chat_pb2.ConversationEvent:
    event = chat_pb2.ConversationEvent(conversation_id=CID)
    event.reply_text.stream_id = stream
    event.reply_text.offset = offset
    event.reply_text.text = piece
    return event


def finished(stream: str = "s1") -> chat_pb2.ConversationEvent:
    event = chat_pb2.ConversationEvent(conversation_id=CID)
    event.reply_finished.stream_id = stream
    return event


async def started_feed(url: PostgresUrl, **settings: Any) -> PostgresFeed:
    feed = PostgresFeed(url, **settings)
    await feed.start(lambda _cid: [])
    return feed


@pytest.fixture
async def two_feeds(postgres_url: PostgresUrl) -> AsyncIterator[tuple[PostgresFeed, PostgresFeed]]:
    sender = await started_feed(postgres_url, max_batch=100)
    receiver = await started_feed(postgres_url)
    try:
        yield sender, receiver
    finally:
        await sender.close()
        await receiver.close()


@pytest.mark.parametrize("count", [1, 250, 1200])
async def test_events_cross_in_order_and_in_few_statements(
    two_feeds: tuple[PostgresFeed, PostgresFeed], count: int
) -> None:
    sender, receiver = two_feeds
    subscription = receiver.subscribe(CID)
    await sender.until(lambda feed: CID in feed.remote_watched)
    assert sender.text_watched(CID) and not sender.text_watched("nobody-watches-this")
    statements, notifications = sender.statements_sent, sender.notifications_sent

    published = [started(), *(text(i, chr(0x61 + i % 26)) for i in range(count)), finished()]
    for event in published:  # one burst, as a tick of many streams' token batches
        sender.publish(CID, event)
    received = [await anext(subscription) for _ in published]

    assert received == published
    await sender.until(lambda feed: feed.notifications_sent - notifications >= len(published))
    sent_statements = sender.statements_sent - statements
    sent = sender.notifications_sent - notifications
    assert sent >= len(published)
    # A burst goes in full batches of 100: ceil(n / 100) statements, not one per event.
    assert sent_statements <= math.ceil(sent / 100) + 1
    subscription.close()


async def test_text_of_an_unwatched_conversation_stays_home_rare_events_do_not(
    two_feeds: tuple[PostgresFeed, PostgresFeed],
) -> None:
    sender, receiver = two_feeds
    for i in range(50):
        sender.publish(CID, text(i, "x"))  # nobody watches CID anywhere: not sent
    changed = chat_pb2.ConversationEvent(conversation_id=CID)
    changed.conversation_changed.SetInParent()
    sender.publish(CID, changed)  # a rare event is sent anyway (a watch may be starting)
    await receiver.until(lambda feed: feed.notifications_received >= 1)
    await sender.until(lambda feed: feed.events_sent >= 1)
    assert sender.events_sent == 1


async def test_own_events_are_not_delivered_twice(
    two_feeds: tuple[PostgresFeed, PostgresFeed],
) -> None:
    sender, receiver = two_feeds
    mine = sender.subscribe(CID)
    theirs = receiver.subscribe(CID)
    await sender.until(lambda feed: CID in feed.remote_watched)
    changed = chat_pb2.ConversationEvent(conversation_id=CID)
    changed.conversation_changed.SetInParent()
    sender.publish(CID, changed)
    marker = chat_pb2.ConversationEvent(conversation_id=CID)
    marker.conversation_deleted.SetInParent()
    sender.publish(CID, marker)
    assert [await anext(theirs), await anext(theirs)] == [changed, marker]
    # Locally: each event once, although the NOTIFY came back to the sender too.
    assert [await anext(mine), await anext(mine)] == [changed, marker]
    await sender.until(lambda feed: feed.statements_sent > 0)
    assert not mine._queue, "nothing doubled behind them"


async def test_a_lost_listen_connection_ends_remote_watches_then_recovers(
    two_feeds: tuple[PostgresFeed, PostgresFeed], postgres_url: PostgresUrl
) -> None:
    sender, receiver = two_feeds
    subscription = receiver.subscribe(CID)
    assert receiver._listen_conn is not None
    pid = receiver._listen_conn.info.backend_pid
    async with await psycopg.AsyncConnection.connect(postgres_url.url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(WatchLost, match="may have been missed"):
        await anext(subscription)
    await receiver.until(lambda feed: feed.listening)
    again = receiver.subscribe(CID)
    await sender.until(lambda feed: CID in feed.remote_watched)
    changed = chat_pb2.ConversationEvent(conversation_id=CID)
    changed.conversation_changed.SetInParent()
    sender.publish(CID, changed)
    assert await anext(again) == changed


async def test_closing_ends_subscriptions(postgres_url: PostgresUrl) -> None:
    feed = await started_feed(postgres_url)
    subscription = feed.subscribe(CID)
    await feed.close()
    with pytest.raises(FeedClosed, match="shutting down"):
        await anext(subscription)
    assert feed._listen_conn is None and feed._send_conn is None


def test_merge_passes_each_character_once_in_order() -> None:
    merge = RemoteMerge()
    assert merge.accept(text(5, "late")) is None, "text of a reply not seen starting"
    assert merge.accept(started()) is not None
    assert merge.accept(text(0, "Hello")) is not None
    assert merge.accept(started()) is None, "a catch-up's start of a known reply"
    assert merge.accept(text(0, "Hel")) is None, "held already"
    trimmed = merge.accept(text(3, "lo, world"))
    assert trimmed is not None
    assert (trimmed.reply_text.offset, trimmed.reply_text.text) == (5, ", world")
    with pytest.raises(TextGap) as gap:
        merge.accept(text(20, "!"))
    assert gap.value.missed == 8
    assert merge.accept(finished()) is not None
    assert merge.accept(text(12, "after the end")) is None


async def test_a_lost_send_connection_delays_events_but_loses_none(
    two_feeds: tuple[PostgresFeed, PostgresFeed], postgres_url: PostgresUrl
) -> None:
    sender, receiver = two_feeds
    subscription = receiver.subscribe(CID)
    await sender.until(lambda feed: CID in feed.remote_watched and feed._send_conn is not None)
    assert sender._send_conn is not None
    pid = sender._send_conn.info.backend_pid
    async with await psycopg.AsyncConnection.connect(postgres_url.url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    published = [started(), *(text(i, "x") for i in range(20)), finished()]
    for event in published:
        sender.publish(CID, event)  # the first send fails; the batch is sent again
    assert [await anext(subscription) for _ in published] == published


async def test_events_dropped_by_a_full_send_queue_end_remote_watches(
    postgres_url: PostgresUrl,
) -> None:
    sender = await started_feed(postgres_url, max_outgoing=5)
    receiver = await started_feed(postgres_url)
    try:
        subscription = receiver.subscribe(CID)
        await sender.until(lambda feed: CID in feed.remote_watched)
        changed = chat_pb2.ConversationEvent(conversation_id=CID)
        changed.conversation_changed.SetInParent()
        for _ in range(20):  # one burst: the queue holds 5, the rest are counted as lost
            sender.publish(CID, changed)
        with pytest.raises(WatchLost, match="dropped 15 changes"):
            while True:
                await anext(subscription)
    finally:
        await sender.close()
        await receiver.close()


async def die_silently(feed: PostgresFeed, url: PostgresUrl) -> None:
    """A replica's death: its tasks stop and its connections drop, with no goodbye."""
    tasks, feed._tasks = feed._tasks, []
    for task in tasks:
        task.cancel()
    pids = [c.info.backend_pid for c in (feed._listen_conn, feed._send_conn) if c]
    async with await psycopg.AsyncConnection.connect(url.url) as admin:
        await admin.execute("SELECT pg_terminate_backend(p) FROM unnest(%s::int[]) p", (pids,))
        await admin.commit()


async def test_a_silent_replicas_replies_end_for_their_watchers(
    postgres_url: PostgresUrl,
) -> None:
    """A replica that dies mid-reply: its watchers elsewhere see the reply end, not hang."""
    doomed = await started_feed(postgres_url, refresh_seconds=0.2)
    survivor = await started_feed(postgres_url, refresh_seconds=0.2)
    try:
        subscription = survivor.subscribe(CID)
        await doomed.until(lambda feed: CID in feed.remote_watched)
        doomed.publish(CID, started())
        doomed.publish(CID, text(0, "half a rep"))
        assert [await anext(subscription), await anext(subscription)] == [
            started(),
            text(0, "half a rep"),
        ]
        await die_silently(doomed, postgres_url)
        ended = await anext(subscription)
        assert ended == finished(), "the reply ends with nothing stored"
    finally:
        await doomed.close()
        await survivor.close()


def test_a_server_on_postgresql_gets_the_postgres_feed(
    postgres_url: PostgresUrl, tmp_path: Path
) -> None:
    on_postgres = GroveServer(ServerConfig(db=postgres_url, watch_max_pending_events=7))
    assert isinstance(on_postgres.servicer.feed, PostgresFeed)
    on_sqlite = GroveServer(ServerConfig(db=tmp_path / "grove.sqlite3"))
    assert isinstance(on_sqlite.servicer.feed, InProcessFeed)


def test_payloads_stay_under_the_notify_limit_and_bad_ones_are_refused() -> None:
    ids = [f"conversation-{i:05d}-ünïcode" for i in range(2000)]
    payloads = list(encode_id_lists(NEW_WATCHES, "0123456789abcdef", ids))
    assert len(payloads) > 1 and all(len(p.encode()) < 8000 for p in payloads)
    decoded = [decode(p, 16) for p in payloads]
    assert [cid for m in decoded if m for cid in decode_ids(m.body)] == ids
    assert decode_event("not base64!") is None
    assert decode_event(base64.b64encode(b"\xff\xff\xff").decode()) is None


async def test_a_silent_listen_connection_is_noticed_and_replaced(
    postgres_url: PostgresUrl, postgres_cluster: PostgresCluster | None
) -> None:
    """A half-open LISTEN connection (its server process frozen): found by the heartbeats."""
    assert postgres_cluster is not None, "the backend is frozen with SIGSTOP: a local cluster"
    feed = await started_feed(postgres_url, refresh_seconds=0.2)
    subscription = feed.subscribe(CID)
    assert feed._listen_conn is not None
    frozen = feed._listen_conn.info.backend_pid
    os.kill(frozen, signal.SIGSTOP)  # no error, no close: it just stops answering
    try:
        with pytest.raises(WatchLost, match="may have been missed"):
            await anext(subscription)
        await feed.until(lambda feed: feed.listening)
        assert feed._listen_conn is not None and feed._listen_conn.info.backend_pid != frozen
    finally:
        os.kill(frozen, signal.SIGCONT)
        async with await psycopg.AsyncConnection.connect(postgres_url.url) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (frozen,))
            await admin.commit()
        await feed.close()


def test_a_catch_up_is_the_start_then_the_whole_text_in_pieces_that_fit() -> None:
    live = chat_pb2.ReplyInProgress(actor="alice", request_id="r1", text="🌳 moss " * 900)
    live.reply.stream_id = "s1"
    live.reply.model_name = "offline"
    first, *texts = catch_up_events(CID, live)
    assert first.reply_started == live.reply and first.actor == "alice"
    assert len(texts) > 1 and all(e.ByteSize() <= MAX_EVENT_BYTES for e in texts)
    assert [e.reply_text.offset for e in texts] == [
        sum(len(e.reply_text.text) for e in texts[:i]) for i in range(len(texts))
    ]
    assert "".join(e.reply_text.text for e in texts) == live.text
    merge = RemoteMerge()  # a watcher that knew nothing of the reply takes it whole
    assert all(merge.accept(e) is not None for e in (first, *texts))
