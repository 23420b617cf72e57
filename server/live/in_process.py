"""The change feed of one server process (the SQLite store's: one process serves it).

Publishing appends to each subscriber's deque and wakes its reader: no await, no copy (the
event object is shared). A subscriber whose deque is full is ended there and then with
`WatcherTooSlow`, its queue dropped, so one stalled watcher costs at most `max_pending`
events of memory and nothing of the publishers' time.
"""

from __future__ import annotations

import asyncio
from collections import deque

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.feed import (
    FeedClosed,
    WatchEnded,
    WatcherTooSlow,
    check_event_size,
)

DEFAULT_MAX_PENDING = 1024


class _Subscriber:
    """One watcher's bounded queue (a `Subscription`)."""

    def __init__(self, feed: InProcessFeed, conversation_id: str, max_pending: int) -> None:
        self._feed = feed
        self.conversation_id = conversation_id
        self._max_pending = max_pending
        self._queue: deque[chat_pb2.ConversationEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._overflow: WatcherTooSlow | None = None
        self._closed: WatchEnded | None = None

    def offer(self, event: chat_pb2.ConversationEvent) -> None:
        """Queues an event, or ends the watch when the queue is full."""
        if len(self._queue) >= self._max_pending:
            self._overflow = WatcherTooSlow(self._max_pending)
            self._queue.clear()
            self._feed.forget(self)
        else:
            self._queue.append(event)
        self._wake()

    def end(self, reason: WatchEnded) -> None:
        """Ends the watch once the queued events are read (the feed closes)."""
        self._closed = reason
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> _Subscriber:
        return self

    async def __anext__(self) -> chat_pb2.ConversationEvent:
        while True:
            if self._overflow is not None:
                raise self._overflow
            if self._queue:
                return self._queue.popleft()
            if self._closed is not None:
                raise self._closed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """Unsubscribes (safe to call again)."""
        self._feed.forget(self)
        self._queue.clear()


class InProcessFeed:
    """`ChangeFeed` within one process: subscribers by conversation id."""

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._closed = False

    def watched(self, conversation_id: str) -> bool:
        """Whether anyone watches the conversation (one dict lookup)."""
        return conversation_id in self._subscribers

    def text_watched(self, conversation_id: str) -> bool:
        """Whether a reply's text must be published: the same as `watched` here."""
        return conversation_id in self._subscribers

    def publish(self, conversation_id: str, event: chat_pb2.ConversationEvent) -> None:
        """Hands the event to every watcher of the conversation; never waits."""
        subscribers = self._subscribers.get(conversation_id)
        if not subscribers:
            return
        check_event_size(event)  # what a feed across processes could not carry fails here too
        for subscriber in list(subscribers):
            subscriber.offer(event)

    def subscribe(self, conversation_id: str) -> _Subscriber:
        """A new watcher's subscription; events published from now on reach it."""
        subscriber = _Subscriber(self, conversation_id, self._max_pending)
        if self._closed:
            subscriber.end(FeedClosed())
        else:
            self._subscribers.setdefault(conversation_id, set()).add(subscriber)
        return subscriber

    def forget(self, subscriber: _Subscriber) -> None:
        """Removes a subscriber (it overflowed or closed)."""
        subscribers = self._subscribers.get(subscriber.conversation_id)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[subscriber.conversation_id]

    @property
    def watcher_count(self) -> int:
        """How many subscriptions are open (tests, figures)."""
        return sum(len(s) for s in self._subscribers.values())

    async def close(self) -> None:
        """Ends every subscription after its queued events; later ones end at once."""
        self._closed = True
        subscribers, self._subscribers = self._subscribers, {}
        for group in subscribers.values():
            for subscriber in group:
                subscriber.end(FeedClosed())
