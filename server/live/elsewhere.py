"""The replies other replicas sample now, by their caller's request id.

A caller whose connection to replica A dropped may resume on replica B, which runs no such
reply. B hears every other replica's `reply_started` and `reply_finished` (rare events
always cross the PostgreSQL feed) with the caller (`actor`) and its request id: this index
keeps the replies started and not finished, so a ResumeResponse on B learns which
conversation to follow and which stream is the caller's (feed_replies.py relays it).

A replica that dies sends no `reply_finished`: its entries stay until evicted, which is
harmless (the relay then waits for the recovered partial reply). The index is bounded;
evictions are counted and logged, never silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from grove_explorer.protos import chat_pb2

log = logging.getLogger(__name__)

MAX_REMEMBERED = 100_000
"""Replies remembered at once (about 200 bytes each); the oldest go first beyond it."""


@dataclass(frozen=True, slots=True)
class RemoteReply:
    """A reply another replica samples: where it is and which stream carries it."""

    conversation_id: str
    actor: str
    request_id: str
    stream_id: str
    parent_response_id: str
    origin: str


class RepliesElsewhere:
    """Replies started on other replicas and not finished, by (caller, request id)."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._limit = limit
        self._replies: dict[tuple[str, str], RemoteReply] = {}
        self._streams: dict[str, tuple[str, str]] = {}  # stream id → key
        self.evicted = 0

    def observe(self, event: chat_pb2.ConversationEvent, origin: str) -> None:
        """Takes note of another replica's event (a PostgresFeed observer: cheap)."""
        kind = event.WhichOneof("event")
        if kind == "reply_started" and event.request_id:
            key = (event.actor, event.request_id)
            started = event.reply_started
            if key not in self._replies and len(self._replies) >= self._limit:
                self._evict()
            self._replies[key] = RemoteReply(
                event.conversation_id,
                event.actor,
                event.request_id,
                started.stream_id,
                started.parent_response_id,
                origin,
            )
            self._streams[started.stream_id] = key
        elif kind == "reply_finished":
            key_of = self._streams.pop(event.reply_finished.stream_id, None)
            if key_of is not None:
                self._replies.pop(key_of, None)

    def _evict(self) -> None:
        oldest = next(iter(self._replies))
        reply = self._replies.pop(oldest)
        self._streams.pop(reply.stream_id, None)
        self.evicted += 1
        if self.evicted % 1_000 == 1:
            log.warning(
                "forgot %d replies of other replicas (over %d at once): a resume of one "
                "of them is found here only once it is stored",
                self.evicted,
                self._limit,
            )

    def find(self, user_id: str, request_id: str) -> RemoteReply | None:
        """The caller's reply sampled elsewhere (None: not known here)."""
        return self._replies.get((user_id, request_id))

    def __len__(self) -> int:
        return len(self._replies)
