"""The receiving side of `PostgresFeed`: LISTEN, other replicas' messages, their watchers.

postgres_feed.py has the design (read it first) and the sending side; this module holds
what one replica does with what it hears on the channel: the LISTEN loop (reconnecting,
and ending every local watch with `WatchLost` when remote events may have been missed or
the connection went silent), each message by kind (an event to the local watchers
through their `RemoteMerge`, announcements and refreshes of other replicas' watches
answered with catch-ups, hello, goodbye, lost markers), and forgetting a replica that
left or died. `FeedReceiving` is a part of `PostgresFeed` (its state is the feed's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.asks import Asks
from grove_explorer.server.live.feed import FeedClosed, WatchEnded
from grove_explorer.server.live.in_process import InProcessFeed, _Subscriber
from grove_explorer.server.live.publishing import LiveReply
from grove_explorer.server.live.remote_merge import (
    ANSWER,
    ASK,
    BYE,
    EVENT,
    HELLO,
    LOST,
    NEW_WATCHES,
    REFRESH,
    RemoteMerge,
    TextGap,
    catch_up_events,
    decode,
    decode_event,
    decode_ids,
    decode_lost,
    decode_pair,
    encode_control,
    encode_id_lists,
)
from grove_explorer.server.store.location import PostgresUrl

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

log = logging.getLogger("grove_explorer.server.live.postgres_feed")

MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 0.05, 5.0
_ORIGIN_CHARS = 16


class WatchLost(FeedClosed):
    """A watch ended because other replicas' events were (or may have been) missed.

    A FeedClosed for this watch: the RPC answers UNAVAILABLE with the sentence, and the
    client may watch again (on this replica or another).
    """

    def __init__(self, sentence: str) -> None:
        WatchEnded.__init__(self, sentence)


def _disconnected() -> WatchLost:
    return WatchLost(
        "This server lost its connection to the database that carries the other servers' "
        "changes, so changes made through them may have been missed; watch again."
    )


class _LocalFeed(InProcessFeed):
    """The inner feed, letting the PostgreSQL feed reach its subscribers one by one."""

    def __init__(self, owner: FeedReceiving, max_pending: int) -> None:
        super().__init__(max_pending)
        self._owner = owner

    def subscribers_of(self, conversation_id: str) -> list[_Subscriber]:
        return list(self._subscribers.get(conversation_id, ()))

    def conversation_ids(self) -> list[str]:
        return list(self._subscribers)

    def end(self, subscriber: _Subscriber, reason: WatchEnded) -> None:
        """Ends one watch after its queued events; nothing more reaches it."""
        subscriber.end(reason)
        self.forget(subscriber)

    def forget(self, subscriber: _Subscriber) -> None:
        super().forget(subscriber)
        self._owner.forget_merge(subscriber)


class FeedReceiving:
    """`PostgresFeed`'s receiving methods (see the module); the feed holds the state."""

    origin: str
    notifications_received: int
    _url: PostgresUrl
    _local: _LocalFeed
    _merges: dict[_Subscriber, RemoteMerge]
    _remote: dict[str, dict[str, float]]
    _seen: dict[str, float]
    _asks: Asks
    _heard_self: float
    _sent_at: float
    _refresh: float
    _replies: Callable[[str], list[LiveReply]]
    _listen_conn: psycopg.AsyncConnection[Any] | None
    _listening: bool
    # Called with every other replica's event and its origin (feed_replies.py's index).
    observers: list[Callable[[chat_pb2.ConversationEvent, str], None]]

    async def _listen(self) -> psycopg.AsyncConnection[Any]:
        raise NotImplementedError  # PostgresFeed's

    async def _notify_changed(self) -> None:
        raise NotImplementedError  # PostgresFeed's

    def _queue_control(self, payload: str) -> None:
        raise NotImplementedError  # PostgresFeed's

    def _queue_event(self, event: chat_pb2.ConversationEvent) -> None:
        raise NotImplementedError  # PostgresFeed's

    def _queue_in_order(self, payload: str) -> None:
        raise NotImplementedError  # PostgresFeed's

    def _settle_asks(self) -> None:
        raise NotImplementedError  # PostgresFeed's

    async def _listen_loop(self) -> None:
        backoff = MIN_BACKOFF_SECONDS
        while True:
            try:
                if self._listen_conn is None:
                    self._listen_conn = await self._listen()
                    backoff = MIN_BACKOFF_SECONDS
                async for note in self._listen_conn.notifies(timeout=self._refresh):
                    self._receive(note.payload)
                    await self._notify_changed()
                if self._silent():
                    raise ConnectionError("its own heartbeats stopped coming back")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("live feed: lost LISTEN on %s (%s); reconnecting", self._url, error)
                self._listening = False
                for cid in self._local.conversation_ids():
                    for subscriber in self._local.subscribers_of(cid):
                        self._local.end(subscriber, _disconnected())
                await self._notify_changed()
                conn, self._listen_conn = self._listen_conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _silent(self) -> bool:
        """Whether the LISTEN connection went quiet though this replica sends (half-open).

        This replica hears its own messages (the heartbeat at least, every refresh). Sent
        a refresh after the last one heard and nothing for three: the connection is dead
        without having said so (a network cut), and is replaced.
        """
        now = time.monotonic()
        return (
            now - self._heard_self > 3 * self._refresh
            and self._sent_at > self._heard_self + self._refresh
        )

    def _receive(self, payload: str) -> None:
        message = decode(payload, _ORIGIN_CHARS)
        if message is None:
            return
        if message.origin == self.origin:
            self._heard_self = time.monotonic()  # the listener works (see _silent)
            return
        self.notifications_received += 1
        kind, origin = message.kind, message.origin
        self._seen[origin] = time.monotonic()
        if kind == EVENT:
            event = decode_event(message.body)
            if event is None:
                log.warning("live feed: an unreadable event from replica %s", origin)
            else:
                self._deliver(event, origin)
        elif kind in (NEW_WATCHES, REFRESH):
            expires = time.monotonic() + 3 * self._refresh
            for cid in decode_ids(message.body):
                known = cid in self._remote and origin in self._remote[cid]
                self._remote.setdefault(cid, {})[origin] = expires
                if kind == NEW_WATCHES or not known:
                    self._catch_up(cid)
        elif kind == HELLO:
            ids = self._local.conversation_ids()
            for announcement in encode_id_lists(NEW_WATCHES, self.origin, ids):
                self._queue_control(announcement)
        elif kind == BYE:
            self._forget_replica(origin)
        elif kind == LOST:
            self._lost_remote(message.body)
        elif kind == ASK:
            asked = decode_pair(message.body)
            if asked is not None:  # answered behind the catch-up its watch's `w` queued
                self._queue_in_order(encode_control(ANSWER, self.origin, [asked[1], origin]))
        elif kind == ANSWER:
            answer = decode_pair(message.body)
            if answer is not None and answer[1] == self.origin:
                self._asks.answered(answer[0], origin)
                self._settle_asks()

    def _deliver(self, event: chat_pb2.ConversationEvent, origin: str) -> None:
        """A remote event to each local watcher of its conversation, through its merge."""
        for observe in self.observers:
            observe(event, origin)
        for subscriber in self._local.subscribers_of(event.conversation_id):
            self._deliver_one(subscriber, event, origin)

    def _deliver_one(
        self, subscriber: _Subscriber, event: chat_pb2.ConversationEvent, origin: str
    ) -> None:
        merge = self._merges.setdefault(subscriber, RemoteMerge())
        try:
            accepted = merge.accept(event, origin)
        except TextGap as gap:
            self._local.end(
                subscriber,
                WatchLost(
                    f"{gap.missed} characters of a reply sampled on another server were "
                    "missed (the servers lost touch); watch again to get the "
                    "conversation as it is now."
                ),
            )
            return
        if accepted is not None:
            subscriber.offer(accepted)

    def _catch_up(self, conversation_id: str) -> None:
        """Sends, for the other replicas' new watchers, this replica's replies so far."""
        for reply in self._replies(conversation_id):
            for event in catch_up_events(conversation_id, reply.in_progress()):
                self._queue_event(event)

    def _lost_remote(self, body: str) -> None:
        lost = decode_lost(body)
        if lost is None:
            return
        cid, count = lost
        for subscriber in self._local.subscribers_of(cid):
            self._local.end(
                subscriber,
                WatchLost(
                    f"Another server could not reach the database and dropped {count} "
                    "changes of this conversation; watch again to get it as it is now."
                ),
            )

    def _forget_remote(self, conversation_id: str, origin: str) -> None:
        origins = self._remote.get(conversation_id)
        if origins is not None:
            origins.pop(origin, None)
            if not origins:
                del self._remote[conversation_id]

    def _forget_replica(self, origin: str) -> None:
        """A replica left (goodbye) or went silent (died): its watches and replies end.

        Its replies' watchers here get a `reply_finished` with nothing stored: the replica
        that recovers its checkpoints announces the partial replies (`response_added`).
        """
        self._seen.pop(origin, None)
        self._settle_asks()
        for cid in list(self._remote):
            self._forget_remote(cid, origin)
        for cid in self._local.conversation_ids():
            for subscriber in self._local.subscribers_of(cid):
                merge = self._merges.get(subscriber)
                for stream in merge.streams_of(origin) if merge is not None else ():
                    ended = chat_pb2.ConversationEvent(conversation_id=cid)
                    ended.reply_finished.stream_id = stream
                    self._deliver_one(subscriber, ended, origin)

    def forget_merge(self, subscriber: _Subscriber) -> None:
        """Drops a watcher's merge state and asks (it ended or closed)."""
        self._merges.pop(subscriber, None)
        self._asks.forget_subscriber(subscriber)
