"""The running AddResponse streams: stopping them, and checkpointing their text.

The registry is what StopResponse, DeleteConversation and shutdown reach streams through,
and what the checkpointer walks: every stream's changed text is saved once per
`checkpoint_interval_ms`, a slice of the running streams at a time (see
`checkpoint_slices`), each slice in one store transaction however many it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from grove_explorer.server.live import LiveReply
from grove_explorer.server.store import Checkpoint, NewResponse, Store

log = logging.getLogger(__name__)

SLICE_SECONDS = 0.05
"""The shortest tick of the checkpointer: an interval is cut into slices this long or longer."""
MAX_SLICES = 8


def checkpoint_slices(interval_seconds: float) -> int:
    """How many slices one checkpoint interval is cut into (each stream is in one).

    Saving every running stream at once is one burst of event-loop work per interval:
    for 200 streams, 2 ms of snapshots, 4 ms of encoding and (on PostgreSQL) about 7 ms
    of the driver's parameters, a delay every stream of the server meets in the same
    turn. One slice at a time spreads the same work over the interval (bursts of about
    1.5 ms); each stream is still saved once per interval, so a crash loses at most the
    same time of text. A short interval (under two ticks) stays one batch an interval.
    """
    return max(1, min(MAX_SLICES, int(interval_seconds / SLICE_SECONDS)))


@dataclass(eq=False)
class ActiveStream:
    """A running AddResponse stream, so it can be stopped by request or by shutdown."""

    user_id: str
    request_id: str
    conversation_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str = ""
    # Checkpointing: `snapshot` builds the partial reply the stream would store now.
    checkpoint_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    snapshot: Callable[[], NewResponse] | None = None
    # Characters of text so far, kept by the stream as tokens come (None: not kept, so a
    # checkpoint builds the snapshot to see): unchanged text is skipped without building
    # a snapshot, which a checkpoint did for every running stream (200 starting streams,
    # most with nothing yet, inside the starts' window).
    chars: int | None = None
    saved_chars: int = 0
    checkpoint_saved: bool = False
    # Set once the stream stores (or gives up) its reply: no checkpoint may follow.
    closed: bool = False
    # True when the user's place follows this stream (select_reply): its responses take
    # the place as they are stored (the store matches it by checkpoint_id).
    follows: bool = False
    # The reply as watchers see it (WatchConversation), once it starts sampling.
    live: LiveReply | None = None
    # The conversation's owner when it is shared with `user_id` (a writer's stream; its
    # responses are stored under the owner with the writer as author); "" the same user.
    owner_id: str = ""
    # The checkpoint slice it is saved in (StreamRegistry.add deals them round robin).
    slot: int = 0

    @property
    def store_user(self) -> str:
        """The user the store scopes this stream's conversation by: its owner."""
        return self.owner_id or self.user_id

    @property
    def author(self) -> str:
        """What its responses record as their author ("" when the owner samples)."""
        return "" if self.store_user == self.user_id else self.user_id

    @property
    def leaf_follows(self) -> str | None:
        """The stream id the store's place-following matches (None: not following)."""
        return self.checkpoint_id if self.follows else None

    # Whether a stop cut the reply (True: stored partial) or came too late to (False: the
    # model had finished). Settled once, by the stream; StopResponse answers with it.
    stop_outcome: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def request_stop(self, reason: str) -> None:
        """Asks the stream to end with what it has ("stopped", "deleted", "shutdown")."""
        self.stop_reason = reason
        self.stop.set()

    def settle_stop(self, cut: bool) -> None:
        """Records whether this stream's reply was cut short (first word wins)."""
        if not self.stop_outcome.done():
            self.stop_outcome.set_result(cut)


class StreamRegistry:
    """The streams sampling now, their checkpoints, and the refusal of new ones at shutdown."""

    def __init__(self, store: Store, checkpoint_interval_seconds: float) -> None:
        self._store = store
        self._interval = checkpoint_interval_seconds
        self._slices = checkpoint_slices(checkpoint_interval_seconds)
        self._next_slot = 0
        self.active: set[ActiveStream] = set()
        # The named streams by (user, request_id): a start checks for a duplicate and
        # StopResponse finds its stream without walking every running stream.
        # Nearly always one stream per key; two starts with one request_id can both pass the
        # duplicate check before either is registered, and then both stay findable.
        self._named: dict[tuple[str, str], list[ActiveStream]] = {}
        self._finished = asyncio.Condition()
        self.closing = False
        # Held while a batch of checkpoints is taken and written, so a stream that ends
        # can wait for the batch in flight and then delete its checkpoint for good.
        self._checkpoint_lock = asyncio.Lock()
        self._checkpointer: asyncio.Task[None] | None = None
        # Names this server process on its checkpoints (set by GroveServer.start).
        self.checkpoint_owner = ""

    def __len__(self) -> int:
        return len(self.active)

    def running(self, user_id: str, request_id: str) -> ActiveStream | None:
        """The caller's stream started with `request_id`, if it is still running."""
        if not request_id:
            return None
        named = self._named.get((user_id, request_id))
        return named[0] if named else None

    def live_replies(self, conversation_id: str) -> list[LiveReply]:
        """The conversation's replies sampling now, as watchers see them."""
        return [
            s.live
            for s in self.active
            if s.conversation_id == conversation_id and s.live is not None and not s.live.ended
        ]

    def stop_conversation(self, user_id: str, conversation_id: str) -> None:
        """Stops every stream of a conversation that is being deleted."""
        for stream in list(self.active):
            if stream.store_user == user_id and stream.conversation_id == conversation_id:
                stream.request_stop("deleted")

    def add(self, stream: ActiveStream) -> None:
        """Registers a stream that starts sampling, and makes sure checkpoints are taken."""
        self.active.add(stream)
        stream.slot = self._next_slot
        self._next_slot = (self._next_slot + 1) % self._slices
        if stream.request_id:
            self._named.setdefault((stream.user_id, stream.request_id), []).append(stream)
        if self._checkpointer is None or self._checkpointer.done():
            self._checkpointer = asyncio.create_task(
                self._checkpoint_loop(), name="grove-checkpointer"
            )

    async def remove(self, stream: ActiveStream) -> None:
        """Forgets a stream that ended; a checkpoint it left without a reply is deleted."""
        if stream.checkpoint_saved and not stream.closed:
            # Ended without storing its reply (e.g. deleted conversation, an abort).
            await asyncio.shield(self._discard_checkpoint(stream))
        self.active.discard(stream)
        key = (stream.user_id, stream.request_id)
        named = self._named.get(key)
        stream.settle_stop(False)  # ended without a stop cutting it (an error, say)
        if named is not None and stream in named:
            named.remove(stream)
            if not named:
                del self._named[key]
        async with self._finished:
            self._finished.notify_all()

    async def stop_all(self, grace_seconds: float) -> None:
        """Asks every running stream to store its partial reply and end; waits for them.

        New streams are refused from now on, so shutdown cannot race a late request.
        """
        self.closing = True
        for stream in list(self.active):
            stream.request_stop("shutdown")
        async with self._finished:
            try:
                await asyncio.wait_for(
                    self._finished.wait_for(lambda: not self.active), timeout=grace_seconds
                )
            except TimeoutError:
                log.warning(
                    "%d streams did not finish within %.1fs", len(self.active), grace_seconds
                )
        task, self._checkpointer = self._checkpointer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- checkpoints -------------------------------------------------------------------

    async def _checkpoint_loop(self) -> None:
        """Saves the text of running streams, each once per checkpoint interval.

        Periodic batches (one transaction a slice) rather than a write per token keep a
        crash's loss bounded by the interval at a cost independent of speed. The loop
        ends when no stream runs (the next `add` starts it again): an idle server does
        not wake every tick.
        """
        tick = self._interval / self._slices
        slot = 0
        while self.active:
            await asyncio.sleep(tick)
            try:
                await self.checkpoint_now(slot)
            except Exception:
                log.exception("checkpointing failed; retrying at the next interval")
            slot = (slot + 1) % self._slices

    async def checkpoint_now(self, slot: int | None = None) -> int:
        """Saves the running streams' text that changed since their last checkpoint.

        `slot`: only the streams of that slice (the checkpointer's tick); None: all.
        Returns how many were saved.
        """
        async with self._checkpoint_lock:
            batch: list[tuple[ActiveStream, Checkpoint]] = []
            for stream in list(self.active):
                if stream.closed or stream.snapshot is None:
                    continue
                if slot is not None and stream.slot != slot:
                    continue
                if stream.chars is not None and stream.chars in (0, stream.saved_chars):
                    continue  # nothing yet, or nothing new: what the snapshot would show
                new = stream.snapshot()
                if not new.message or len(new.message) == stream.saved_chars:
                    continue
                batch.append((stream, Checkpoint(stream.checkpoint_id, stream.store_user, new)))
            await self._store.save_checkpoints([c for _, c in batch], owner=self.checkpoint_owner)
            for stream, checkpoint in batch:
                stream.saved_chars = len(checkpoint.response.message)
                stream.checkpoint_saved = True
            return len(batch)

    async def close_checkpoint(self, stream: ActiveStream) -> None:
        """Stops checkpointing `stream` and waits out a batch in flight that includes it."""
        stream.closed = True
        async with self._checkpoint_lock:
            pass

    async def _discard_checkpoint(self, stream: ActiveStream) -> None:
        await self.close_checkpoint(stream)
        try:
            await self._store.discard_checkpoint(stream.checkpoint_id)
        except Exception:  # the store may be closing; recovery at start cleans up
            log.warning("could not discard checkpoint %s", stream.checkpoint_id)
