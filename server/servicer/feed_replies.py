"""Replies running on another replica, relayed to a caller resuming here via the feed.

A caller whose connection to replica A dropped while A still samples may reach only
replica B (A is out of its reach, or the load balancer sent the resume to B). B has no log
of the reply, and it is not stored yet. `FeedReplies` is the `ResumeSource` that follows
it on the cross-replica change feed (server/live/): `RepliesElsewhere` says, from A's
`reply_started`, which conversation and stream carry the caller's request; B subscribes
to that conversation (A answers the new watch with a catch-up: the text so far from
offset 0, then the live text) and writes what it hears into a `ReplyLog`, which `relay`
sends the caller from after its `after_tokens`, as a live resume does.

Tokens, not text: the caller counts tokens, the feed carries text at code-point offsets.
The mapping chosen is exact or nothing: every `reply_text` carries the lengths of the
tokens it is made of (`token_lengths`, an additive field that A's publisher fills from
the stream's own token texts, for live batches and catch-ups alike). B cuts the text
back into those tokens, so its count is A's count and the caller gets each token once.
Where the lengths are missing (a token too long for one event, a replica of an older
version, a piece trimmed mid-token), B stops relaying text and waits for the stored reply,
whose tokens (from the store, with their logprobs) continue from the count already sent:
a guessed split would give the caller a count A never had. Relayed tokens carry
`logprob_unknown` (the feed carries no logprobs); the stored reply always ends the stream.

If A dies meanwhile, its reply's end comes without a stored reply (B's feed notices A's
silence) and the reply is recovered from its checkpoint by a surviving replica, announced
as `response_added`: B ends the relay with that partial reply, as the store path does.
No news of the reply for `quiet_seconds`, or the feed ending the subscription, ends the
relay UNAVAILABLE with a sentence: the caller resumes again (its count is kept). A reply
its server ended with nothing stored (cancelled before any text) ends the relay at once
with the status of a resume of an unknown reply (NOT_FOUND "unknown"): A's own
`reply_finished` carries the request id, the feed's end for a silent replica does not.

B may never have heard the reply start (it started after it, or its index forgot it):
the human message the request stored first names the conversation, B follows it, and the
sampling replica's catch-up names the reply (see `FeedReplies.find`; a resample has no
such message). B also asks every replica to answer behind its catch-up
(server/live/asks.py): all answered and none named it means no replica samples it, and
the relay ends at once (stored meanwhile, or NOT_FOUND "unknown") instead of after
`UNHEARD_SECONDS`. Access is checked when a relay starts and again before the stored reply
is sent: a caller whose share was revoked meanwhile gets NOT_FOUND, as on every RPC.

A sampling server ends a reply nobody relays once its resume grace is over; B relays it
without A knowing, so B publishes `reply_followed` when it starts relaying and every
`HOLD_SECONDS` after, and A holds the reply for `HELD_SECONDS` (at least its grace) after
each: a long reply is relayed whole, and one whose relay stopped (B died, its caller left)
is ended by A's grace as before.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.live import ChangeFeed, Subscription, WatchEnded
from grove_explorer.server.live.asks import is_answered_marker
from grove_explorer.server.live.elsewhere import RemoteReply, RepliesElsewhere
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.reply_log import ReplyLog
from grove_explorer.server.servicer.resuming import RESUME_KEY, ResumableReplies
from grove_explorer.server.servicer.status import quote
from grove_explorer.server.servicer.stored_replies import STORED_BATCH_TOKENS, StoredReplies
from grove_explorer.server.store import ResponseRecord, Store

log = logging.getLogger(__name__)

QUIET_SECONDS = 60.0
"""How long a relay waits for news of its reply (text, its end, its recovery)."""

UNHEARD_SECONDS = 10.0
"""How long a relay found by its human message waits at most for its reply to be named.

Every replica answers a new watch with a catch-up of the replies it samples there, and
the relay's ask behind it (server/live/asks.py): once every replica has answered and none
named the caller's reply, none samples it (it ended with nothing stored) and the relay
ends at once, NOT_FOUND "unknown", as elsewhere. This bound is for a replica that never
answers (a version without asks): nothing named in this long means the same."""

HOLD_SECONDS = 5.0
"""How often a relay tells the sampling server it follows the reply (`reply_followed`)."""

HELD_SECONDS = 3 * HOLD_SECONDS
"""How long one `reply_followed` holds the reply past its grace on the sampling server."""


class FeedReplies:
    """The `ResumeSource` of replies sampled on other replicas (see the module)."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        elsewhere: RepliesElsewhere,
        quiet_seconds: float = QUIET_SECONDS,
        unheard_seconds: float = UNHEARD_SECONDS,
    ) -> None:
        self._store = store
        self._feed = feed
        self._elsewhere = elsewhere
        self._stored = StoredReplies(store)
        self._quiet = quiet_seconds
        self._unheard = unheard_seconds
        self.relays_started = 0  # figures (tests): relays that followed the feed

    async def find(self, user_id: str, request_id: str) -> ReplyLog | None:
        """A log filled from the feed as the other replica samples; None: not known.

        A reply whose start this replica never heard (it started after the reply, or its
        index forgot it) is found by the human message its request stored first
        (`Store.request_message`): its conversation is followed, and the sampling
        replica's catch-up names the reply (its start, with the caller and request id)
        and its text from offset 0. A request without a human message (a resample) has
        no stored row until its reply is stored: it stays unknown here (NOT_FOUND).
        """
        remote = self._elsewhere.find(user_id, request_id)
        human: ResponseRecord | None = None
        if remote is None:
            human = await self._store.request_message(user_id, request_id)
            if human is None:
                return None
            # The stream is unknown until the catch-up's `reply_started` names it.
            remote = RemoteReply(
                human.conversation_id, user_id, request_id, "", human.response_id, ""
            )
        access = await self._store.access(user_id, remote.conversation_id)
        if access is None:
            return None
        subscription = self._feed.subscribe(remote.conversation_id)
        try:
            # Stored before the subscription (its end went by)? The store has it whole.
            stored = await self._stored.find(user_id, request_id)
            if stored is not None:
                subscription.close()
                return stored
            out = ReplyLog(user_id, request_id)
            if human is None and remote.parent_response_id:
                human = await self._store.get_response(
                    access.owner_id, remote.conversation_id, remote.parent_response_id
                )
            if human is not None:
                await out.write(
                    chat_pb2.AddResponseResponse(user_response=response_to_proto(human))
                )
        except BaseException:
            subscription.close()  # a storage failure, or the caller left: no relay
            raise
        nonce = ""
        if not remote.stream_id and isinstance(self._feed, PostgresFeed):
            # Each replica answers behind its catch-up: once all have, none names it.
            nonce = self._feed.ask_samplers(subscription, remote.conversation_id)
        follower = _Follower(self, out, remote, nonce)
        task = asyncio.create_task(
            follower.run(subscription), name=f"grove-relay-{request_id[:12]}"
        )
        out.releases.append(task.cancel)
        self.relays_started += 1
        log.info(
            "relaying reply %s sampled on replica %s",
            request_id,
            remote.origin or "(not heard yet: from its conversation's catch-up)",
        )
        return out


class _Follower:
    """One relay: the feed's events of one reply into its log (see the module)."""

    def __init__(self, source: FeedReplies, out: ReplyLog, remote: RemoteReply, nonce: str = ""):
        self._source = source
        self._out = out
        self._remote = remote
        self._nonce = nonce  # of the ask whose answers name no reply once all are in
        self._stream = remote.stream_id  # "" until a catch-up names it (see `find`)
        self._chars = 0  # characters of the reply relayed as tokens
        self._exact = True  # False once a piece came without its token lengths

    async def run(self, subscription: Subscription) -> None:
        out = self._out
        holding = asyncio.create_task(self._hold(), name=f"grove-hold-{out.request_id[:12]}")
        try:
            loop = asyncio.get_running_loop()
            # Until the reply is named, only as long as a catch-up takes to come. Only
            # news of the reply counts: other events (this relay's own `reply_followed`,
            # other replies) do not put the end off.
            deadline = loop.time() + (
                self._source._quiet if self._stream else self._source._unheard
            )
            while not out.done:
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(aiter(subscription))
                except TimeoutError:
                    if not await self._from_store():
                        out.finish(self._quiet_status() if self._stream else self._unknown())
                    return
                named = bool(self._stream)
                await self._take(event)
                if self._stream and (not named or self._news(event)):
                    deadline = loop.time() + self._source._quiet
        except WatchEnded as ended:
            if not await self._from_store():
                out.finish(
                    (
                        grpc.StatusCode.UNAVAILABLE,
                        f"{ended} (The reply was relayed from another server through "
                        "the change feed: resume again.)",
                        (),
                    )
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relay of reply %s failed", out.request_id)
            out.finish((grpc.StatusCode.INTERNAL, "The relay failed inside the server.", ()))
        finally:
            holding.cancel()
            subscription.close()

    async def _hold(self) -> None:
        """Tells the sampling server, now and every HOLD_SECONDS, that this relay follows."""
        remote = self._remote
        while True:
            event = chat_pb2.ConversationEvent(
                conversation_id=remote.conversation_id,
                actor=remote.actor,
                request_id=remote.request_id,
            )
            event.reply_followed.stream_id = self._stream
            self._source._feed.publish(remote.conversation_id, event)
            await asyncio.sleep(HOLD_SECONDS)

    def _quiet_status(self) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
        return (
            grpc.StatusCode.UNAVAILABLE,
            f"No news of reply {quote(self._out.request_id)} from the server sampling it "
            f"for {self._source._quiet:g}s (it may have stopped: its last checkpoint "
            "becomes a partial reply once a server recovers it); resume again later.",
            (),
        )

    def _unknown(self) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
        """What a resume of a reply no server runs or stored gets (resuming.py's words)."""
        return (
            grpc.StatusCode.NOT_FOUND,
            f"No reply with request_id {quote(self._out.request_id)} runs on any server or "
            "is stored (it ended before any text was kept, or its server stopped before "
            "storing it: its last checkpoint becomes a partial reply once a server "
            "recovers it).",
            ((RESUME_KEY, "unknown"),),
        )

    def _news(self, event: chat_pb2.ConversationEvent) -> bool:
        """Whether an event is news of the relayed reply (its text, from its server)."""
        return (
            event.WhichOneof("event") in ("reply_text", "reply_finished")
            and event.request_id == self._remote.request_id
            and event.actor == self._remote.actor
        )

    async def _take(self, event: chat_pb2.ConversationEvent) -> None:
        kind = event.WhichOneof("event")
        remote = self._remote
        if self._nonce and is_answered_marker(event, self._nonce):
            # Every replica answered behind its catch-up and none named the reply: none
            # samples it. Stored meanwhile, or it ended with nothing kept.
            if not self._stream and not await self._from_store():
                self._out.finish(self._unknown())
        elif (
            kind == "reply_started"
            and not self._stream
            and event.actor == remote.actor
            and event.request_id == remote.request_id
        ):
            self._stream = event.reply_started.stream_id  # the caller's reply, named
        elif kind == "reply_text" and self._stream and event.reply_text.stream_id == self._stream:
            await self._text(event.reply_text)
        elif kind == "reply_finished" and (
            event.reply_finished.stream_id == self._stream or self._news(event)
        ):
            # Stored, or its replica is gone (the feed's own end, with no request id: a
            # recovered partial reply is announced later), or its server ended it with
            # nothing stored (cancelled before any text): then nothing will come.
            if not await self._from_store() and event.request_id:
                self._out.finish(self._unknown())
        elif kind == "reply_finished" and not self._stream:
            await self._from_store()  # ended before its catch-up: maybe stored
        elif kind == "response_added":
            await self._from_store()  # maybe the reply, recovered from its checkpoint
        elif kind == "conversation_deleted":
            self._out.finish(
                (
                    grpc.StatusCode.NOT_FOUND,
                    f"Conversation {quote(self._remote.conversation_id)} was deleted while "
                    "its reply was relayed.",
                    (),
                )
            )

    async def _text(self, piece: chat_pb2.ReplyText) -> None:
        lengths = list(piece.token_lengths)
        if not self._exact or piece.offset != self._chars or sum(lengths) != len(piece.text):
            self._exact = False  # from here the stored reply's tokens follow the count
            return
        tokens, start = [], 0
        for length in lengths:
            tokens.append(SampledToken(piece.text[start : start + length], None))
            start += length
        if tokens:
            self._chars += len(piece.text)
            self._out.write_tokens(tokens)

    async def _from_store(self) -> bool:
        """Ends the log with the stored reply, if stored; False while it is not."""
        store, out = self._source._store, self._out
        records = await store.request_responses(out.user_id, out.request_id)
        replies = [r for r in records if r.sender == "model"]
        if not replies:
            return False
        reply = replies[-1]
        # Access is checked again before the reply is sent: it may have been revoked
        # while the reply was relayed (nothing is cached, as for every RPC).
        access = await store.access(out.user_id, reply.conversation_id)
        if access is None:
            out.finish(
                (
                    grpc.StatusCode.NOT_FOUND,
                    f"Conversation {quote(reply.conversation_id)} does not exist (or was deleted).",
                    (),
                )
            )
            return True
        tokens = await store.response_tokens(
            access.owner_id, reply.conversation_id, reply.response_id
        )
        rest = (tokens or [])[out.tokens :]
        for start in range(0, len(rest), STORED_BATCH_TOKENS):
            batch = [SampledToken(*row) for row in rest[start : start + STORED_BATCH_TOKENS]]
            out.write_tokens(batch)
        await out.write(chat_pb2.AddResponseResponse(model_response=response_to_proto(reply)))
        out.finish()
        log.info(
            "relayed reply %s: %d tokens from the feed, %d from the store%s",
            out.request_id,
            out.tokens - len(rest),
            len(rest),
            ", partial" if reply.partial else "",
        )
        return True


def add_feed_replies(resumable: ResumableReplies, store: Store, feed: PostgresFeed) -> FeedReplies:
    """Lets `resumable` relay replies other replicas sample (after those stored)."""
    elsewhere = RepliesElsewhere()
    feed.observers.append(elsewhere.observe)

    def held(event: chat_pb2.ConversationEvent, origin: str) -> None:
        if event.HasField("reply_followed"):  # another server relays a reply of ours
            resumable.hold(event.actor, event.request_id, HELD_SECONDS)

    feed.observers.append(held)
    source = FeedReplies(store, feed, elsewhere)
    resumable.sources.append(source)
    return source
