"""The in-process change feed: bounded queues, ends that say why, events kept small."""

from __future__ import annotations

import pytest

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live import MAX_EVENT_BYTES, FeedClosed, InProcessFeed, WatcherTooSlow
from grove_explorer.server.live.feed import EventTooLargeError
from grove_explorer.server.live.publishing import TEXT_CHARS_PER_EVENT, LivePublisher
from grove_explorer.server.sampler.base import SampledToken


def changed(conversation_id: str = "c") -> chat_pb2.ConversationEvent:
    event = chat_pb2.ConversationEvent(conversation_id=conversation_id)
    event.conversation_changed.SetInParent()
    return event


async def test_events_reach_every_watcher_of_their_conversation_only() -> None:
    feed = InProcessFeed()
    first, second, elsewhere = feed.subscribe("c"), feed.subscribe("c"), feed.subscribe("d")
    assert feed.watched("c") and not feed.watched("e")
    feed.publish("c", changed())
    feed.publish("e", changed("e"))  # nobody watches: nothing happens
    assert (await anext(first)).conversation_id == "c"
    assert (await anext(second)).conversation_id == "c"
    elsewhere.close()
    first.close()
    second.close()
    assert not feed.watched("c") and feed.watcher_count == 0


async def test_a_full_queue_ends_that_watcher_alone_with_a_sentence() -> None:
    feed = InProcessFeed(max_pending=3)
    slow, quick = feed.subscribe("c"), feed.subscribe("c")
    for _ in range(4):
        feed.publish("c", changed())
        await anext(quick)
    with pytest.raises(WatcherTooSlow, match="more than 3 events behind"):
        await anext(slow)
    assert feed.watcher_count == 1, "the slow watcher is gone; the quick one stays"
    feed.publish("c", changed())
    assert (await anext(quick)).HasField("conversation_changed")


async def test_closing_delivers_what_is_queued_then_ends() -> None:
    feed = InProcessFeed()
    watcher = feed.subscribe("c")
    feed.publish("c", changed())
    await feed.close()
    assert (await anext(watcher)).HasField("conversation_changed")
    with pytest.raises(FeedClosed, match="shutting down"):
        await anext(watcher)
    with pytest.raises(FeedClosed):
        await anext(feed.subscribe("c"))


async def test_an_event_too_big_for_a_notify_is_refused() -> None:
    feed = InProcessFeed()
    feed.subscribe("c")
    event = changed()
    event.conversation_changed.title = "x" * (MAX_EVENT_BYTES + 1)
    with pytest.raises(EventTooLargeError):
        feed.publish("c", event)


async def test_long_text_goes_in_pieces_that_fit_with_their_offsets() -> None:
    feed = InProcessFeed()
    watcher = feed.subscribe("c")
    pieces = ["a" * 10, "é" * (3 * TEXT_CHARS_PER_EVENT)]
    reply = LivePublisher(feed).reply("c", "alice", "r1", "s1", None, "offline", pieces)
    reply.sent([SampledToken(pieces[0], None)], 10)
    reply.sent([SampledToken(pieces[1], None)], 10 + len(pieces[1]))
    got = [await anext(watcher) for _ in range(4)]
    assert [e.reply_text.offset for e in got] == [
        0,
        10,
        10 + TEXT_CHARS_PER_EVENT,
        10 + 2 * TEXT_CHARS_PER_EVENT,
    ]
    assert "".join(e.reply_text.text for e in got) == "".join(pieces)
    assert all(e.ByteSize() <= MAX_EVENT_BYTES for e in got)
    assert reply.in_progress().text == "".join(pieces)
