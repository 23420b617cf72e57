"""The `ChangeFeed` protocol: conversation changes published once, read by every watcher.

Events are `ConversationEvent` protos, keyed by conversation id, and small: at most
`MAX_EVENT_BYTES` serialised, so that a feed across server processes can carry them in a
PostgreSQL NOTIFY (8,000 bytes of text at most, and base64 takes a third more). Only a
reply's new text carries content, cut into pieces that fit; every other event names the
row it is about ("response R added", "the title changed") and the watcher's own server
reads that row. A published event is shared by every subscriber: nobody may change it.

A subscriber's queue is bounded. A watcher that cannot keep up is ended with
`WatcherTooSlow` (the RPC answers RESOURCE_EXHAUSTED with its sentence) rather than
growing the server's memory, slowing the samplers that publish, or silently missing events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from grove_explorer.protos import chat_pb2

# A NOTIFY payload is at most 8,000 bytes of text; base64 of 5,000 bytes is 6,668.
MAX_EVENT_BYTES = 5_000


class WatchEnded(Exception):
    """A subscription ended by the feed; the message is the sentence for the watcher."""


class WatcherTooSlow(WatchEnded):
    """The watcher fell more events behind than its queue holds, so its watch was ended."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This watch fell more than {limit} events behind the conversation and was "
            "ended (the server keeps no more for one watcher: grove serve "
            "--watch-max-pending-events); watch again to start from the conversation as "
            "it is now."
        )
        self.limit = limit


class FeedClosed(WatchEnded):
    """The feed was closed (the server is shutting down)."""

    def __init__(self) -> None:
        super().__init__("The server is shutting down; watch again on a running server.")


class EventTooLargeError(ValueError):
    """A publisher built an event over `MAX_EVENT_BYTES` (a bug: content goes by row)."""


class Subscription(Protocol):
    """One watcher's events of one conversation, in publication order.

    Iterating raises `WatcherTooSlow` at once when the queue overflowed (what was queued
    is dropped: the watch is over) and `FeedClosed` after the queued events when the feed
    closes. `close` unsubscribes; it is safe to call twice.
    """

    def __aiter__(self) -> AsyncIterator[chat_pb2.ConversationEvent]: ...

    async def __anext__(self) -> chat_pb2.ConversationEvent:
        """The next event (see the class for how a watch ends)."""
        ...

    def close(self) -> None:
        """Unsubscribes; queued events are dropped."""
        ...


class ChangeFeed(Protocol):
    """Where every change of a conversation is published and watched.

    `publish` never waits (it runs on the samplers' path): a feed across processes sends
    from a task of its own. `watched` is the cheap check publishers make before building
    an event; a feed that cannot tell (another process may watch) answers True.
    """

    def watched(self, conversation_id: str) -> bool:
        """Whether anyone may watch the conversation (cheap: it runs per token batch)."""
        ...

    def text_watched(self, conversation_id: str) -> bool:
        """Whether a reply's text must be published (per token batch: cheap).

        Narrower than `watched` where late watchers get the text so far another way (the
        PostgreSQL feed's catch-ups); else the same.
        """
        ...

    def publish(self, conversation_id: str, event: chat_pb2.ConversationEvent) -> None:
        """Hands the event to every watcher of the conversation, without waiting."""
        ...

    def subscribe(self, conversation_id: str) -> Subscription:
        """A subscription that receives every event published from now on."""
        ...

    async def close(self) -> None:
        """Ends every subscription (FeedClosed after its queued events)."""
        ...


def check_event_size(event: chat_pb2.ConversationEvent) -> None:
    """Raises EventTooLargeError for an event a NOTIFY could not carry."""
    size = event.ByteSize()
    if size > MAX_EVENT_BYTES:
        raise EventTooLargeError(
            f"A conversation event of {size} bytes is over the feed's {MAX_EVENT_BYTES}: "
            "big content must be referred to by row."
        )
