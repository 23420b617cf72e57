"""What crosses replicas on the PostgreSQL feed: NOTIFY payloads, and one watcher's merge.

Payloads (text, well under PostgreSQL's 8,000 bytes) start with a kind letter and the
sending replica's id, so a replica drops its own messages coming back:

* ``e<origin> <base64 ConversationEvent>`` — an event (its conversation id is inside);
* ``w<origin> <json ids>`` — "new watches of these conversations here": every replica
  answers with a catch-up of the replies it samples in them (their start and text so far);
* ``r<origin> <json ids>`` — the same watches still held (a keep-alive, and the replica's
  heartbeat even when empty; no catch-up, unless the receiver had forgotten them);
* ``h<origin>`` — "I (re)joined": every replica announces its watches again as new;
* ``b<origin>`` — "I leave": its watches are forgotten at once;
* ``l<origin> <json [id, count]>`` — the origin dropped `count` events of that
  conversation (it could not reach the database long enough): its watchers elsewhere end;
* ``a<origin> <json [id, nonce]>`` — "answer once the catch-up you owe my watch of this
  conversation is on its way" (sent after the watch's ``w``; asks.py);
* ``k<origin> <json [nonce, asker]>`` — that answer, sent behind the catch-up's events.

`RemoteMerge` is one local watcher's view of replies sampled on other replicas: their text
can reach it twice (live, and again in a catch-up from offset 0) or start before it knew
the reply; it passes each character exactly once, in order, and reports a true hole.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.publishing import text_pieces, token_pieces

# A NOTIFY payload must be shorter than 8,000 bytes; control lists are cut below this.
CONTROL_PAYLOAD_BYTES = 7_000

EVENT, NEW_WATCHES, REFRESH, HELLO, BYE, LOST = "e", "w", "r", "h", "b", "l"
ASK, ANSWER = "a", "k"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded payload: its kind, origin replica and body (see the module)."""

    kind: str
    origin: str
    body: str


def encode_event(origin: str, event: chat_pb2.ConversationEvent) -> str:
    """The payload of an event (`origin` is this replica's id)."""
    return f"{EVENT}{origin} {base64.b64encode(event.SerializeToString()).decode('ascii')}"


def encode_control(kind: str, origin: str, body: object = None) -> str:
    """The payload of a control message (a JSON body, or none)."""
    if body is None:
        return f"{kind}{origin}"
    return f"{kind}{origin} {json.dumps(body, separators=(',', ':'))}"


def encode_id_lists(kind: str, origin: str, ids: list[str]) -> Iterator[str]:
    """`ids` announced in as few payloads as fit (each under CONTROL_PAYLOAD_BYTES)."""
    chunk: list[str] = []
    size = 0
    for cid in ids:
        length = len(json.dumps(cid)) + 1  # as it is written in the list, with its comma
        if chunk and size + length > CONTROL_PAYLOAD_BYTES:
            yield encode_control(kind, origin, chunk)
            chunk, size = [], 0
        chunk.append(cid)
        size += length
    if chunk:
        yield encode_control(kind, origin, chunk)


def catch_up_events(
    conversation_id: str, live: chat_pb2.ReplyInProgress
) -> Iterator[chat_pb2.ConversationEvent]:
    """A reply being sampled as a late watcher elsewhere needs it: its start, its text.

    The text so far from offset 0, in pieces that fit an event (whole tokens with their
    lengths, when the reply says them); the reply's next `reply_text` starts where it ends.
    """
    start = chat_pb2.ConversationEvent(
        conversation_id=conversation_id, actor=live.actor, request_id=live.request_id
    )
    start.reply_started.CopyFrom(live.reply)
    yield start
    for offset, piece, lengths in _pieces(live):
        text = chat_pb2.ConversationEvent(
            conversation_id=conversation_id, actor=live.actor, request_id=live.request_id
        )
        text.reply_text.stream_id = live.reply.stream_id
        text.reply_text.offset = offset
        text.reply_text.text = piece
        text.reply_text.token_lengths.extend(lengths)
        yield text


def _pieces(live: chat_pb2.ReplyInProgress) -> Iterator[tuple[int, str, list[int]]]:
    lengths = list(live.token_lengths)
    if sum(lengths) != len(live.text) or not live.text:
        for offset, piece in text_pieces(live.text):
            yield offset, piece, []
        return
    tokens, start = [], 0
    for length in lengths:
        tokens.append(live.text[start : start + length])
        start += length
    yield from token_pieces(tokens)


def trimmed_lengths(lengths: list[int], skip: int) -> list[int]:
    """Token lengths of a piece without its first `skip` code points ([]: cut mid-token)."""
    for index, length in enumerate(lengths):
        if skip == 0:
            return lengths[index:]
        if skip < length:
            return []
        skip -= length
    return []


def decode(payload: str, origin_length: int) -> Message | None:
    """The message of a payload, or None for one this version cannot read."""
    if len(payload) < 1 + origin_length:
        return None
    kind, origin = payload[0], payload[1 : 1 + origin_length]
    return Message(kind, origin, payload[2 + origin_length :])


def decode_event(body: str) -> chat_pb2.ConversationEvent | None:
    """The event of an `e` message, or None when it does not parse (logged by the caller)."""
    try:
        return chat_pb2.ConversationEvent.FromString(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError, DecodeError):
        return None


def decode_ids(body: str) -> list[str]:
    """The conversation ids of a `w`/`r` message ([] when malformed)."""
    try:
        value = json.loads(body)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def decode_lost(body: str) -> tuple[str, int] | None:
    """The conversation id and count of an `l` message (None when malformed)."""
    return _pair(body, int)


def decode_pair(body: str) -> tuple[str, str] | None:
    """The two strings of an `a` or `k` message (None when malformed)."""
    return _pair(body, str)


def _pair(body: str, second: type[_T]) -> tuple[str, _T] | None:
    """A JSON list of a string and a `second` (None when it is anything else)."""
    try:
        first_value, second_value = json.loads(body)
    except (ValueError, TypeError):
        return None
    if not isinstance(first_value, str) or not isinstance(second_value, second):
        return None
    return first_value, second_value


class TextGap(Exception):
    """A remote reply's text skipped characters this watcher never got."""

    def __init__(self, stream_id: str, missed: int) -> None:
        super().__init__(stream_id, missed)
        self.stream_id = stream_id
        self.missed = missed


class RemoteMerge:
    """One watcher's remote replies: characters held per stream, duplicates dropped.

    Text of a stream the watcher has not seen start is dropped: its replica's catch-up
    (answering this watch's announcement) brings the start and the text from offset 0.
    """

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._origins: dict[str, str] = {}  # stream id → the replica sampling it

    def accept(
        self, event: chat_pb2.ConversationEvent, origin: str = ""
    ) -> chat_pb2.ConversationEvent | None:
        """The event to give the watcher (maybe trimmed), None to drop; TextGap for a hole."""
        kind = event.WhichOneof("event")
        if kind == "reply_started":
            stream = event.reply_started.stream_id
            if stream in self._held:
                return None  # a catch-up of a reply the watcher follows already
            self._held[stream] = 0
            self._origins[stream] = origin
            return event
        if kind == "reply_text":
            return self._text(event)
        if kind == "reply_finished":
            self._held.pop(event.reply_finished.stream_id, None)
            self._origins.pop(event.reply_finished.stream_id, None)
        return event

    def streams_of(self, origin: str) -> list[str]:
        """The replies this watcher follows that the replica `origin` samples."""
        return [stream for stream, source in self._origins.items() if source == origin]

    def _text(self, event: chat_pb2.ConversationEvent) -> chat_pb2.ConversationEvent | None:
        piece = event.reply_text
        held = self._held.get(piece.stream_id)
        if held is None:
            return None  # started before this watch: the catch-up brings it whole
        offset, end = piece.offset, piece.offset + len(piece.text)
        if offset > held:
            raise TextGap(piece.stream_id, offset - held)
        if end <= held:
            return None  # had it (a catch-up overlapping the live text, or the reverse)
        self._held[piece.stream_id] = end
        if offset == held:
            return event
        trimmed = chat_pb2.ConversationEvent()
        trimmed.CopyFrom(event)
        trimmed.reply_text.offset = held
        trimmed.reply_text.text = piece.text[held - offset :]
        del trimmed.reply_text.token_lengths[:]
        trimmed.reply_text.token_lengths.extend(
            trimmed_lengths(list(piece.token_lengths), held - offset)
        )
        return trimmed
