"""The events the servicer publishes on the change feed, built only when someone watches.

Every event but a reply's text refers to its row (a response id, "the title changed"):
the watcher's server reads the row, so events stay far below `MAX_EVENT_BYTES` whatever
the messages hold. A reply's text goes in pieces of at most `TEXT_CHARS_PER_EVENT` code
points, each with its offset in the reply.

`LiveReply` is one reply being sampled as watchers see it: it publishes its start, each
batch of tokens as the stream sends it to its caller (the existing batching: nothing is
done per token) and its end, and answers what a watcher joining mid-reply needs — the
text sent so far, which the events that follow continue without a gap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.feed import MAX_EVENT_BYTES, ChangeFeed
from grove_explorer.server.sampler.base import SampledToken

# UTF-8 takes at most 4 bytes a code point; the rest of an event is well under 200 bytes.
TEXT_CHARS_PER_EVENT = (MAX_EVENT_BYTES - 200) // 4


# Bytes of an event's text and token lengths together (the rest is under 200 bytes).
TEXT_BYTES_PER_EVENT = MAX_EVENT_BYTES - 200


def text_pieces(text: str, limit: int = TEXT_CHARS_PER_EVENT) -> Iterator[tuple[int, str]]:
    """`text` cut into pieces of at most `limit` code points, with each one's start."""
    for start in range(0, len(text), limit):
        yield start, text[start : start + limit]


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def token_pieces(
    tokens: Sequence[str], budget: int = TEXT_BYTES_PER_EVENT
) -> Iterator[tuple[int, str, list[int]]]:
    """Whole tokens grouped into pieces that fit an event: start, text, token lengths.

    Why lengths: a caller resuming on another replica counts tokens, the feed carries
    text; with each piece's token lengths that replica counts as the caller does
    (feed_replies.py). A token too big for an event on its own is cut by `text_pieces`
    and its pieces carry no lengths (unknown: the follower then waits for the store).
    """
    total = sum(len(t) for t in tokens)
    if total * 4 + 5 * len(tokens) <= budget:  # the usual batch: one piece, no counting
        yield 0, "".join(tokens), [len(t) for t in tokens]
        return
    start = size = 0
    group: list[str] = []
    for token in tokens:
        cost = len(token.encode("utf-8")) + _varint_size(len(token))
        if group and size + cost > budget:
            text = "".join(group)
            yield start, text, [len(t) for t in group]
            start, size, group = start + len(text), 0, []
        if cost > budget:
            for offset, piece in text_pieces(token):
                yield start + offset, piece, []
            start += len(token)
            continue
        group.append(token)
        size += cost
    if group:
        yield start, "".join(group), [len(t) for t in group]


class LivePublisher:
    """Publishes the changes of conversations (a no-op for a conversation nobody watches)."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed

    def publish_event(self, conversation_id: str, event: chat_pb2.ConversationEvent) -> None:
        """Publishes a built event under its conversation (which it is stamped with)."""
        event.conversation_id = conversation_id
        self.feed.publish(conversation_id, event)

    def response_added(
        self, conversation_id: str, actor: str, response_id: str, request_id: str = ""
    ) -> None:
        """A response was stored (the watcher's server reads it by id)."""
        if self.feed.watched(conversation_id):
            event = chat_pb2.ConversationEvent(actor=actor, request_id=request_id)
            event.response_added.response.response_id = response_id
            self.publish_event(conversation_id, event)

    def annotation_changed(self, conversation_id: str, actor: str, response_id: str) -> None:
        """An annotation was set or removed (the watcher's server reads it)."""
        if self.feed.watched(conversation_id):
            event = chat_pb2.ConversationEvent(actor=actor)
            event.annotation_changed.response_id = response_id
            self.publish_event(conversation_id, event)

    def conversation_changed(self, conversation_id: str, actor: str) -> None:
        """The title or star changed (the watcher's server reads both)."""
        if self.feed.watched(conversation_id):
            event = chat_pb2.ConversationEvent(actor=actor)
            event.conversation_changed.SetInParent()
            self.publish_event(conversation_id, event)

    def conversation_deleted(self, conversation_id: str, actor: str) -> None:
        """The conversation is gone; its watches end after this event."""
        if self.feed.watched(conversation_id):
            event = chat_pb2.ConversationEvent(actor=actor)
            event.conversation_deleted.SetInParent()
            self.publish_event(conversation_id, event)

    def reply(
        self,
        conversation_id: str,
        actor: str,
        request_id: str,
        stream_id: str,
        parent_response_id: str | None,
        model_name: str,
        pieces: list[str],
    ) -> LiveReply:
        """A reply that starts sampling now; `pieces` is the stream's list of token texts."""
        return LiveReply(
            self,
            conversation_id,
            actor,
            request_id,
            stream_id,
            parent_response_id or "",
            model_name,
            pieces,
        )


@dataclass(eq=False)
class LiveReply:
    """One reply being sampled, as its watchers see it (see the module)."""

    publisher: LivePublisher
    conversation_id: str
    actor: str
    request_id: str
    stream_id: str
    parent_response_id: str
    model_name: str
    # The stream's own list of token texts (shared, not copied).
    pieces: list[str]
    # Characters of the reply its caller was sent (and watchers given) so far.
    sent_chars: int = 0
    # The stored reply's id, once stored (partial or not).
    stored_id: str | None = None
    ended: bool = False

    def _event(self) -> chat_pb2.ConversationEvent:
        return chat_pb2.ConversationEvent(actor=self.actor, request_id=self.request_id)

    def _started(self, into: chat_pb2.ReplyStarted) -> None:
        into.stream_id = self.stream_id
        into.parent_response_id = self.parent_response_id
        into.model_name = self.model_name

    def start(self) -> None:
        """Publishes that the reply started sampling."""
        if self.publisher.feed.watched(self.conversation_id):
            event = self._event()
            self._started(event.reply_started)
            self.publisher.publish_event(self.conversation_id, event)

    def sent(self, batch: Sequence[SampledToken], chars: int) -> None:
        """A batch went to the caller; `chars` is the reply's length with it."""
        offset, self.sent_chars = self.sent_chars, chars
        if not batch or not self.publisher.feed.text_watched(self.conversation_id):
            return
        for start, piece, lengths in token_pieces([t.text for t in batch]):
            event = self._event()
            event.reply_text.stream_id = self.stream_id
            event.reply_text.offset = offset + start
            event.reply_text.text = piece
            event.reply_text.token_lengths.extend(lengths)
            self.publisher.publish_event(self.conversation_id, event)

    def finish(self) -> None:
        """Publishes the end: the stored reply's id, or none (nothing was stored)."""
        if self.ended:
            return
        self.ended = True
        if self.publisher.feed.watched(self.conversation_id):
            event = self._event()
            event.reply_finished.stream_id = self.stream_id
            if self.stored_id is not None:
                event.reply_finished.response.response_id = self.stored_id
            self.publisher.publish_event(self.conversation_id, event)

    def in_progress(self) -> chat_pb2.ReplyInProgress:
        """The reply so far, for a watcher that joins now (its next text starts after it)."""
        lengths: list[int] = []
        chars = 0
        for piece in self.pieces:  # the tokens sent (those after are not yet)
            if chars + len(piece) > self.sent_chars:
                break
            chars += len(piece)
            lengths.append(len(piece))
        wire = chat_pb2.ReplyInProgress(
            actor=self.actor,
            request_id=self.request_id,
            text="".join(self.pieces)[: self.sent_chars],
            token_lengths=lengths if chars == self.sent_chars else (),
        )
        self._started(wire.reply)
        return wire
