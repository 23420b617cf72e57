"""`PostgresFeed`: the change feed of several replicas on one PostgreSQL database.

Design, and why:

* **Local first.** Watchers of this replica are served by an inner `InProcessFeed`:
  publishing to them never waits on the database, and a stalled watcher ends with
  RESOURCE_EXHAUSTED exactly as on SQLite.
* **One channel, batched.** Every replica LISTENs on one channel (`grove_live`) from its
  start, and ONE task sends what this replica publishes: it wakes when something is
  queued, lingers `LINGER_SECONDS` so a tick's events travel together, and sends up to
  `MAX_BATCH` payloads in one statement (`SELECT pg_notify(...) FROM unnest(...)`: one
  round trip, one transaction) — hundreds of streams' token batches cost a few statements
  a tick. A payload names its origin replica (its own come back and are dropped) and
  carries the base64 proto (remote_merge.py has the formats). One channel rather than one
  per conversation: a replica listens from its start, so a watch is heard the moment it
  subscribes (no LISTEN to finish before its first read), at the cost of each replica
  decoding the others' events of watched conversations — fine for a handful of replicas.
  NOTIFY is per database, so deployments on other databases of one server never mix; and
  the database is trusted as the store is: whoever may NOTIFY on it may also read and
  write every conversation in it (a forged event names rows the watcher's server reads
  with the watcher's rights; only a reply's text travels in the event itself).
* **What is sent.** Rare events (a response added, a reply started or finished, title,
  star, annotation, deletion) are always sent: `watched()` answers True, since another
  replica may watch. A reply's text — the bulk — is sent only for conversations watched
  somewhere (`text_watched()`): here, or announced by another replica. A replica
  announces a new watch (`w`), refreshes its watches every `REFRESH_SECONDS` (`r`), says
  goodbye at close (`b`); an announcement not refreshed for `3 * REFRESH_SECONDS` (its
  replica died with its connection) is forgotten. The refresh is also every replica's
  heartbeat: a replica silent that long is taken for dead, and each watcher here of a
  reply it sampled gets that reply's end with nothing stored (the replica recovering its
  checkpoints announces the partial reply), not a reply streaming forever.
* **Joining mid-reply (the hard part).** The WatchConversation RPC gives a new watcher the
  text so far of the replies *this* replica samples; on another replica that is nothing.
  So a new watch is announced, and every replica answers with a **catch-up** for each
  reply it samples in that conversation: its start and its text from offset 0, in pieces
  that fit, queued behind what it sent before and ahead of what it sends after. Each
  watcher's remote replies go through a `RemoteMerge`: a text of a reply it has not seen
  start is dropped (the catch-up brings it whole), text it holds already is dropped or
  trimmed, and a piece that would leave a hole ends the watch (below). What a watcher on B
  sees of a reply sampled on A, by when it joins:
  - before the reply starts: its start, then every piece in order (A learned of the watch
    from the announcement, or an older one, before its text; or the catch-up brings it);
  - mid-reply: the live pieces already on the way are dropped until A's catch-up arrives
    (start + text from 0), then the live pieces after it — trimmed where they overlap;
  - as the reply ends: the finish (sent always) with the stored reply, maybe no text;
  - an event committed before the watch but delivered after it arrives twice (the
    watcher's first reads saw it too): events refer to rows, so that is harmless.
* **Losing the database.** The sender keeps unsent payloads (up to `MAX_OUTGOING`) and
  retries with backoff: local watchers lose nothing, and remote ones get the events late
  but whole. Beyond `MAX_OUTGOING` events are dropped with a count per conversation, and
  once reconnected a `lost` marker ends those conversations' remote watches. When the
  LISTEN connection drops — or goes silent: a replica hears its own heartbeats, and none
  heard back for three refreshes means a half-open connection — remote events may be
  missed meanwhile: every watch of this replica is ended (UNAVAILABLE with a sentence,
  `WatchLost`) rather than silently missing them, and new watches are refused until it
  is back; on reconnecting it says hello and the others announce their watches again
  (catch-ups included).
* **Where.** This module is the feed, its state and its sending side; what a replica
  does with what it hears (the LISTEN loop, each message, forgetting a replica) is
  postgres_receiving.py (`FeedReceiving`, a part of `PostgresFeed`).
* **Closing** flushes what is queued (bounded by `FLUSH_SECONDS`: the final replies of a
  shutdown reach remote watchers), says goodbye, stops the tasks, ends every subscription
  (`FeedClosed`) and closes both connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.asks import Asks
from grove_explorer.server.live.feed import Subscription, check_event_size
from grove_explorer.server.live.in_process import DEFAULT_MAX_PENDING, _Subscriber
from grove_explorer.server.live.postgres_receiving import (
    _ORIGIN_CHARS,
    MAX_BACKOFF_SECONDS,
    MIN_BACKOFF_SECONDS,
    FeedReceiving,
    WatchLost,
    _LocalFeed,
)
from grove_explorer.server.live.publishing import LiveReply
from grove_explorer.server.live.remote_merge import (
    ASK,
    BYE,
    EVENT,
    HELLO,
    LOST,
    NEW_WATCHES,
    REFRESH,
    RemoteMerge,
    encode_control,
    encode_event,
    encode_id_lists,
)
from grove_explorer.server.store.location import PostgresUrl

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "grove_live"
LINGER_SECONDS = 0.005  # a tick: what is published meanwhile travels in one statement
MAX_BATCH = 500  # payloads per statement (each < 8,000 bytes)
MAX_OUTGOING = 50_000  # payloads kept while the database is unreachable
REFRESH_SECONDS = 5.0
FLUSH_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 10

RepliesOf = Callable[[str], list[LiveReply]]


class PostgresFeed(FeedReceiving):
    """`ChangeFeed` across the replicas of one PostgreSQL database (see the module)."""

    def __init__(
        self,
        url: PostgresUrl | str,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_outgoing: int = MAX_OUTGOING,
        max_batch: int = MAX_BATCH,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._url = url if isinstance(url, PostgresUrl) else PostgresUrl(url)
        self.origin = secrets.token_hex(_ORIGIN_CHARS // 2)
        self._local = _LocalFeed(self, max_pending)
        self._merges: dict[_Subscriber, RemoteMerge] = {}
        # Conversation id → announcing replica → when its announcement expires.
        self._remote: dict[str, dict[str, float]] = {}
        self._seen: dict[str, float] = {}  # replica → when it was last heard from
        # When this replica last heard its own message, and last sent one (see _silent).
        self._heard_self = self._sent_at = time.monotonic()
        self._control: deque[str] = deque()
        # Events, and control payloads that must keep their place among them (answers).
        self._events: deque[chat_pb2.ConversationEvent | str] = deque()
        self._asks = Asks()
        # When LISTEN first worked (loop time); every live replica is heard within a
        # heartbeat period (`knows_every_replica`), with a margin for a late one.
        self._listening_since: float | None = None
        self._known_after = 1.5 * refresh_seconds
        self._lost: dict[str, int] = {}
        self._max_outgoing = max_outgoing
        self._max_batch = max_batch
        self._refresh = refresh_seconds
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()  # tests and benches wait on the feed's state
        self._waiting = 0
        self._drained = asyncio.Event()
        self._replies: RepliesOf = lambda _conversation_id: []
        self._listen_conn: psycopg.AsyncConnection[Any] | None = None
        self._send_conn: psycopg.AsyncConnection[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Called with every other replica's event and its origin (feed_replies.py's index).
        self.observers: list[Callable[[chat_pb2.ConversationEvent, str], None]] = []
        self._listening = False
        self._closed = False
        # Figures (tests, benches): statements sent, payloads (and events) in them, received.
        self.statements_sent = 0
        self.notifications_sent = 0
        self.events_sent = 0
        self.notifications_received = 0

    # -- the ChangeFeed protocol ---------------------------------------------------------

    def watched(self, conversation_id: str) -> bool:
        """True: another replica may watch (rare events are always sent; see the module)."""
        return True

    def text_watched(self, conversation_id: str) -> bool:
        """Whether a reply's text is wanted: watched here, or announced by another replica."""
        return conversation_id in self._local._subscribers or conversation_id in self._remote

    def publish(self, conversation_id: str, event: chat_pb2.ConversationEvent) -> None:
        """To local watchers at once; to the other replicas by the sending task."""
        check_event_size(event)
        self._local.publish(conversation_id, event)
        if self._closed:
            return
        if event.HasField("reply_text") and conversation_id not in self._remote:
            return  # no other replica watches it; a later watcher gets a catch-up
        self._queue_event(event)

    def subscribe(self, conversation_id: str) -> _Subscriber:
        """A local watch; other replicas are told so (their catch-ups follow)."""
        subscriber = self._local.subscribe(conversation_id)
        if self._closed:
            return subscriber  # ended with FeedClosed by the inner feed
        if not self._listening:
            self._local.end(
                subscriber,
                WatchLost(
                    "This server cannot reach the database that carries the other servers' "
                    "changes right now; watch again in a moment, or on another server."
                ),
            )
            return subscriber
        self._merges[subscriber] = RemoteMerge()
        self._queue_control(encode_control(NEW_WATCHES, self.origin, [conversation_id]))
        return subscriber

    def ask_samplers(self, subscription: Subscription, conversation_id: str) -> str:
        """Asks every other replica for its replies in a conversation `subscription` watches.

        Call it right after `subscribe`: the answers come behind the catch-ups of that
        watch, and `subscription` gets `answered_marker(conversation_id, nonce)` (asks.py)
        once this replica knows every live one (`knows_every_replica`) and each has
        answered (one that left or went silent is not waited for). Returns the nonce.
        """
        if not isinstance(subscription, _Subscriber):
            raise TypeError("ask_samplers takes a subscription of this feed")
        nonce = self._asks.start(subscription, conversation_id)
        self._queue_control(encode_control(ASK, self.origin, [conversation_id, nonce]))
        self._settle_asks()  # answered now if this replica knows it is alone
        if not self.knows_every_replica and self._listening_since is not None:
            # Settled once this replica has heard every live one's heartbeat.
            asyncio.get_running_loop().call_at(
                self._listening_since + self._known_after, self._settle_asks
            )
        return nonce

    @property
    def knows_every_replica(self) -> bool:
        """Whether every live replica has been heard: listening for a heartbeat period."""
        since = self._listening_since
        return since is not None and asyncio.get_running_loop().time() >= since + self._known_after

    def _settle_asks(self) -> None:
        self._asks.settle(set(self._seen), self.knows_every_replica)

    async def close(self) -> None:
        """Flushes (bounded), says goodbye, stops the tasks, ends every subscription."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            self._queue_control(encode_control(BYE, self.origin))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), FLUSH_SECONDS)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for conn in (self._listen_conn, self._send_conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._listen_conn = self._send_conn = None
        self._listening = False
        await self._local.close()

    # -- starting ----------------------------------------------------------------------

    async def start(self, replies: RepliesOf) -> None:
        """Connects and LISTENs (raises when the database cannot be reached), then runs.

        `replies(conversation_id)` are the replies this replica samples in a conversation
        (the servicer's), for catch-ups.
        """
        self._replies = replies
        self._listen_conn = await self._listen()
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="grove-feed-send"),
            asyncio.create_task(self._listen_loop(), name="grove-feed-listen"),
            asyncio.create_task(self._refresh_loop(), name="grove-feed-refresh"),
        ]

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        return await psycopg.AsyncConnection.connect(
            self._url.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            # A cut network is noticed by the kernel too, not only by the heartbeats.
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )

    async def _listen(self) -> psycopg.AsyncConnection[Any]:
        conn = await self._connect()
        await conn.execute(f"LISTEN {CHANNEL}")
        if self._listening_since is None:
            self._listening_since = asyncio.get_running_loop().time()
        self._listening = True
        self._heard_self = time.monotonic()
        await self._notify_changed()
        # Whoever watches something announces it again: this replica learns of it.
        self._queue_control(encode_control(HELLO, self.origin))
        return conn

    # -- sending -----------------------------------------------------------------------

    def _queue_control(self, payload: str) -> None:
        self._control.append(payload)
        self._drained.clear()
        self._wake.set()

    def _queue_event(self, event: chat_pb2.ConversationEvent) -> None:
        if len(self._events) >= self._max_outgoing:
            cid = event.conversation_id
            self._lost[cid] = self._lost.get(cid, 0) + 1
            return
        self._events.append(event)
        self._drained.clear()
        self._wake.set()

    def _queue_in_order(self, payload: str) -> None:
        """A control payload sent behind the events queued before it (an answer)."""
        self._events.append(payload)
        self._drained.clear()
        self._wake.set()

    def _take_batch(self) -> list[str]:
        """Up to `max_batch` payloads: lost markers, control messages, then events."""
        batch: list[str] = []
        while self._lost and len(batch) < self._max_batch:
            cid, count = self._lost.popitem()
            batch.append(encode_control(LOST, self.origin, [cid, count]))
        while self._control and len(batch) < self._max_batch:
            batch.append(self._control.popleft())
        while self._events and len(batch) < self._max_batch:
            item = self._events.popleft()
            batch.append(item if isinstance(item, str) else encode_event(self.origin, item))
        return batch

    async def _send_loop(self) -> None:
        backoff = MIN_BACKOFF_SECONDS
        batch: list[str] = []
        while True:
            if not batch:
                if not (self._control or self._events or self._lost):
                    self._drained.set()
                    self._wake.clear()
                    await self._wake.wait()
                await asyncio.sleep(LINGER_SECONDS)
                batch = self._take_batch()
            try:
                if self._send_conn is None or self._send_conn.closed:
                    self._send_conn = await self._connect()
                await self._send_conn.execute(
                    "SELECT count(pg_notify(%s, p)) FROM unnest(%s::text[]) AS p",
                    (CHANNEL, batch),
                )
            except Exception as error:  # psycopg's errors and OSError: retried alike
                log.warning("live feed: cannot send to %s (%s); retrying", self._url, error)
                await self._drop_send_conn()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            self.statements_sent += 1
            self._sent_at = time.monotonic()
            self.notifications_sent += len(batch)
            self.events_sent += sum(1 for payload in batch if payload[0] == EVENT)
            backoff = MIN_BACKOFF_SECONDS
            batch = []
            await self._notify_changed()

    async def _drop_send_conn(self) -> None:
        conn, self._send_conn = self._send_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    # -- keeping announcements fresh -----------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            if self._listening:
                # Also a heartbeat (an empty list): the others know this replica lives.
                ids = self._local.conversation_ids()
                refreshes = list(encode_id_lists(REFRESH, self.origin, ids))
                for payload in refreshes or [encode_control(REFRESH, self.origin, [])]:
                    self._queue_control(payload)
            now = time.monotonic()
            for origin, seen in list(self._seen.items()):
                if seen < now - 3 * self._refresh:
                    self._forget_replica(origin)  # silent: died, or lost the database
            for cid, origins in list(self._remote.items()):
                for origin, expires in list(origins.items()):
                    if expires < now:
                        self._forget_remote(cid, origin)

    # -- waiting on the feed (tests, benches) ------------------------------------------

    async def _notify_changed(self) -> None:
        if not self._waiting:
            return  # nobody waits (serving): no lock taken per notification
        async with self._changed:
            self._changed.notify_all()

    async def until(self, done: Callable[[PostgresFeed], bool]) -> None:
        """Returns once `done(feed)` holds (checked as messages arrive and connections change)."""
        self._waiting += 1
        try:
            async with self._changed:
                await self._changed.wait_for(lambda: done(self))
        finally:
            self._waiting -= 1

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (other replicas' events arrive)."""
        return self._listening

    # -- figures -------------------------------------------------------------------------

    @property
    def watcher_count(self) -> int:
        """How many local subscriptions are open."""
        return self._local.watcher_count

    @property
    def replicas_heard(self) -> frozenset[str]:
        """The other replicas this one has heard from and not forgotten (tests)."""
        return frozenset(self._seen)

    @property
    def remote_watched(self) -> frozenset[str]:
        """Conversations other replicas announced watches of (tests)."""
        return frozenset(self._remote)
