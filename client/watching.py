"""`Conversation.watch()`: a conversation's changes as they happen, as typed records.

One decoder turns the WatchConversation stream into the records below (no protos leave
this module). The text of replies being sampled is checked as it comes: each piece must
start where the text held so far ends (the server's offsets), so a watcher never shows a
reply with a hole — a gap raises `WatchGapError` and overlapping text is trimmed.
Events of streams this client started itself are marked `own`.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from grove_explorer.client.convert import node_from_proto, utc_datetime
from grove_explorer.client.errors import (
    ResourceExhaustedError,
    WatchGapError,
    WatchTooSlowError,
    translate,
)
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.own_requests import OwnRequests
from grove_explorer.client.research import Annotation
from grove_explorer.protos import chat_pb2, chat_pb2_grpc


@dataclass(frozen=True, slots=True)
class LiveReplyState:
    """A reply being sampled when the watch began, with its text up to then."""

    stream_id: str
    parent_id: str | None
    model_name: str
    actor: str
    own: bool
    text: str


@dataclass(frozen=True, slots=True)
class WatchStarted:
    """The first event: who watches (`watcher`), and the replies being sampled now."""

    watcher: str
    replies: tuple[LiveReplyState, ...]
    # Responses stored when the watch began (a forest loaded before with fewer missed some).
    response_count: int = 0
    # The title and star when the watch began (None from servers that do not say): a
    # change made before it, after the conversation was loaded, is told by no event.
    marks: TitleChanged | None = None


@dataclass(frozen=True, slots=True)
class ResponseStored:
    """A response was stored (a human message, a hand-written reply, …) by `actor`."""

    actor: str
    own: bool
    node: ResponseNode


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    """A reply began sampling under `parent_id` (None: a new root)."""

    actor: str
    own: bool
    stream_id: str
    parent_id: str | None
    model_name: str


@dataclass(frozen=True, slots=True)
class ReplyText:
    """New text of a reply being sampled (it follows the text before it, no gap)."""

    actor: str
    own: bool
    stream_id: str
    offset: int
    text: str


@dataclass(frozen=True, slots=True)
class ReplyFinished:
    """A reply was stored (`node`; partial when cut short), or ended with none (None)."""

    actor: str
    own: bool
    stream_id: str
    node: ResponseNode | None


@dataclass(frozen=True, slots=True)
class AnnotationChanged:
    """The annotation of a response changed (an empty one: removed)."""

    actor: str
    response_id: str
    annotation: Annotation


@dataclass(frozen=True, slots=True)
class TitleChanged:
    """The title or star changed (both as they were read, at `update_time`).

    `update_time` (None from servers that do not say) orders this state against others:
    a client that knows a later one (its own change, answered while this event was on its
    way) keeps that (`Conversation.changed_elsewhere`).
    """

    actor: str
    title: str
    starred: bool
    update_time: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationGone:
    """The conversation was deleted by `actor`; the watch ends after this."""

    actor: str


WatchEvent = (
    WatchStarted
    | ResponseStored
    | ReplyStarted
    | ReplyText
    | ReplyFinished
    | AnnotationChanged
    | TitleChanged
    | ConversationGone
)


class _Decoder:
    """Wire events → records, checking that each reply's text arrives without a gap."""

    def __init__(self, own: OwnRequests) -> None:
        self._own = own
        self._lengths: dict[str, int] = {}  # stream id → characters received

    def decode(self, wire: chat_pb2.ConversationEvent) -> WatchEvent | None:
        kind = wire.WhichOneof("event")
        actor = wire.actor
        own = bool(wire.request_id) and wire.request_id in self._own
        if kind == "reply_text":
            return self._text(actor, own, wire.reply_text)
        if kind == "started":
            replies = []
            for live in wire.started.replies:
                self._lengths[live.reply.stream_id] = len(live.text)
                replies.append(
                    LiveReplyState(
                        live.reply.stream_id,
                        live.reply.parent_response_id or None,
                        live.reply.model_name,
                        live.actor,
                        bool(live.request_id) and live.request_id in self._own,
                        live.text,
                    )
                )
            begun = wire.started
            marks = (
                _title_changed(begun.watcher, begun.conversation)
                if begun.HasField("conversation")
                else None
            )
            return WatchStarted(begun.watcher, tuple(replies), begun.response_count, marks)
        if kind == "response_added":
            return ResponseStored(actor, own, node_from_proto(wire.response_added.response))
        if kind == "reply_started":
            started = wire.reply_started
            self._lengths[started.stream_id] = 0
            return ReplyStarted(
                actor,
                own,
                started.stream_id,
                started.parent_response_id or None,
                started.model_name,
            )
        if kind == "reply_finished":
            finished = wire.reply_finished
            self._lengths.pop(finished.stream_id, None)
            node = node_from_proto(finished.response) if finished.HasField("response") else None
            return ReplyFinished(actor, own, finished.stream_id, node)
        if kind == "annotation_changed":
            changed = wire.annotation_changed
            return AnnotationChanged(
                actor, changed.response_id, Annotation.from_proto(changed.annotation)
            )
        if kind == "conversation_changed":
            return _title_changed(actor, wire.conversation_changed)
        if kind == "conversation_deleted":
            return ConversationGone(actor)
        return None  # a kind this SDK does not know yet (a newer server)

    def _text(self, actor: str, own: bool, wire: chat_pb2.ReplyText) -> ReplyText | None:
        held = self._lengths.get(wire.stream_id)
        if held is None:  # a stream that started before the watch and is not in `started`
            raise WatchGapError(
                f"Text of reply stream {wire.stream_id[:8]} arrived without its start; watch again."
            )
        offset, text = wire.offset, wire.text
        if offset > held:
            raise WatchGapError(
                f"{offset - held} characters of reply stream {wire.stream_id[:8]} were "
                "missed; watch again."
            )
        if offset < held:  # overlap: what we hold already is cut off the front
            text = text[held - offset :]
            offset = held
        if not text:
            return None
        self._lengths[wire.stream_id] = offset + len(text)
        return ReplyText(actor, own, wire.stream_id, offset, text)


def _title_changed(actor: str, wire: chat_pb2.ConversationChanged) -> TitleChanged:
    when = utc_datetime(wire.update_time) if wire.HasField("update_time") else None
    return TitleChanged(actor, wire.title, wire.starred, when)


async def watch_events(
    stub: chat_pb2_grpc.ChatStub, conversation_id: str, own: OwnRequests
) -> AsyncIterator[WatchEvent]:
    """The conversation's events until it is deleted or the iterator is closed.

    Raises NotFoundError (not yours, or gone), WatchTooSlowError (the server ended a watch
    that fell behind), ServerUnavailableError (the server went away or shuts down).
    """
    request = chat_pb2.WatchConversationRequest(
        conversation_id=conversation_id, own_request_prefix=own.prefix
    )
    call = stub.WatchConversation(request)
    decoder = _Decoder(own)
    try:
        async for wire in call:
            event = decoder.decode(wire)
            if event is None:
                continue
            yield event
            if isinstance(event, ConversationGone):
                return
    except grpc.RpcError as error:
        translated = translate(error)
        if type(translated) is ResourceExhaustedError:
            raise WatchTooSlowError(translated.message, translated.code) from None
        raise translated from None
    finally:
        call.cancel()
