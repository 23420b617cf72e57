"""WatchConversation: a conversation's changes as they happen (live shared trees).

The watch subscribes to the change feed, then — with no await in between, so nothing
published meanwhile is missed or doubled — takes the replies this server is sampling for
the conversation with their text sent so far: the first event (`started`) carries them,
and their `reply_text` events continue exactly where that text ends. Feed events refer to
rows; each is completed here from the store with the watcher's own reads, so a watcher
sees what a GetConversation of theirs would. Who may watch is decided where every RPC
decides it (`access.resolve`, need "read": the owner and whoever it is shared with); a
watch re-checks it at most every `ACCESS_RECHECK_SECONDS` while events flow, so a revoked
reader's watch ends (NOT_FOUND, as for any conversation they may not read).
"""

from __future__ import annotations

import time

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import annotation_to_proto, response_to_proto, set_time
from grove_explorer.server.live import ChangeFeed, FeedClosed, LiveReply, WatcherTooSlow
from grove_explorer.server.servicer.access import resolve
from grove_explorer.server.servicer.status import abort, abort_not_found
from grove_explorer.server.store import Store

ACCESS_RECHECK_SECONDS = 1.0
"""How stale a watch's knowledge of its access may get: one store read a second at most."""


def started_event(
    conversation_id: str, watcher: str, replies: list[LiveReply]
) -> chat_pb2.ConversationEvent:
    """The watch's first event: who watches, and the replies being sampled now."""
    event = chat_pb2.ConversationEvent(conversation_id=conversation_id)
    event.started.watcher = watcher
    event.started.replies.extend(reply.in_progress() for reply in replies)
    return event


async def watch_conversation(
    store: Store,
    feed: ChangeFeed,
    live_replies: list[LiveReply],
    user: str,
    request: chat_pb2.WatchConversationRequest,
    context: grpc.aio.ServicerContext,
) -> None:
    """Streams the conversation's events until it is deleted or the watch ends.

    The feed ends a watch too slow (RESOURCE_EXHAUSTED) and every watch at shutdown
    (UNAVAILABLE). `live_replies` are the conversation's replies this server samples now,
    read by the caller right before this call (no await in between).
    """
    conversation_id = request.conversation_id
    subscription = feed.subscribe(conversation_id)
    try:
        first = started_event(conversation_id, user, live_replies)
        owner = await resolve(store, context, user, conversation_id, "read")
        checked = time.monotonic()
        record = await store.get_conversation(owner, conversation_id)
        # None: deleted in between, and its deletion is queued (it ends the watch).
        if record is not None:
            first.started.response_count = record.response_count
            marks = first.started.conversation
            marks.title, marks.starred = record.title, record.starred
            set_time(marks.update_time, record.update_time)
        await context.write(first)
        own = request.own_request_prefix
        async for event in subscription:
            if own and event.HasField("reply_text") and event.request_id.startswith(own):
                continue  # the watcher's own stream brings it this text
            # A deletion is told as such, not as the loss of access it also is (the
            # re-check would find the conversation gone and answer NOT_FOUND instead).
            deleted = event.HasField("conversation_deleted")
            if not deleted and time.monotonic() - checked > ACCESS_RECHECK_SECONDS:
                if await store.access(user, conversation_id) is None:
                    await abort_not_found(context, conversation_id)
                checked = time.monotonic()
            wire = await completed(store, owner, event)
            if wire is not None:
                await context.write(wire)
            if event.HasField("conversation_deleted"):
                return
    except WatcherTooSlow as ended:
        await abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(ended))
    except FeedClosed as ended:
        await abort(context, grpc.StatusCode.UNAVAILABLE, str(ended))
    finally:
        subscription.close()


async def completed(
    store: Store, user: str, event: chat_pb2.ConversationEvent
) -> chat_pb2.ConversationEvent | None:
    """The feed event with the rows it refers to read in; None when they are gone.

    The feed's event is shared by every watcher, so it is copied before being filled.
    A row that is gone (deleted in between) drops its event: the deletion follows.
    Events between servers (a relay's `reply_followed`) are dropped too.
    """
    kind = event.WhichOneof("event")
    if kind == "reply_followed":
        return None  # between servers only (feed_replies.py): no watcher's business
    cid = event.conversation_id
    if kind == "response_added" or (
        kind == "reply_finished" and event.reply_finished.HasField("response")
    ):
        holder = event.response_added if kind == "response_added" else event.reply_finished
        record = await store.get_response(user, cid, holder.response.response_id)
        if record is None:
            return None
        wire = chat_pb2.ConversationEvent()
        wire.CopyFrom(event)
        target = wire.response_added if kind == "response_added" else wire.reply_finished
        target.response.CopyFrom(response_to_proto(record))
        return wire
    if kind == "annotation_changed":
        annotations = await store.annotations(user, cid)
        wire = chat_pb2.ConversationEvent()
        wire.CopyFrom(event)
        annotation = annotations.get(event.annotation_changed.response_id)
        if annotation is not None:
            wire.annotation_changed.annotation.CopyFrom(annotation_to_proto(annotation))
        return wire
    if kind == "conversation_changed":
        conversation = await store.get_conversation(user, cid)
        if conversation is None:
            return None
        wire = chat_pb2.ConversationEvent()
        wire.CopyFrom(event)
        wire.conversation_changed.title = conversation.title
        wire.conversation_changed.starred = conversation.starred
        set_time(wire.conversation_changed.update_time, conversation.update_time)
        return wire
    return event
