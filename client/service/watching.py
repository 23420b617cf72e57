"""Following the open conversation: changes made elsewhere join its forest as they happen.

`follow(conversation_id)` watches one open conversation (`Conversation.watch()`); the
changes other sessions and users make are applied to the SDK conversation's own forest —
the state every view draws — and published as events:

- a reply sampled elsewhere is a streaming placeholder (`elsewhere:<stream>`, marked with
  who made it: `ResponseNode.made_by`) whose text grows as it streams
  (`ReplyElsewhereStarted` / `ReplyElsewhereText`) and which is swapped for the stored
  reply (`ReplyElsewhereEnded`);
- a response stored elsewhere and an annotation changed elsewhere are `ResponseAdded`,
  a title or star `ConversationUpdated`, a deletion `DeletedElsewhere`;
- the watch ending on an error is `WatchStopped` (its placeholders are dropped), except
  NOT_FOUND / PERMISSION_DENIED — the conversation was deleted, or its share revoked,
  maybe while the server was away — which is `DeletedElsewhere` as a deletion seen live;
- the watch ending with UNAVAILABLE (the server went away, restarts, or a replica died)
  is `WatchReconnecting`: it is started again after a growing, jittered delay
  (`rewatch_delay`) until it begins — `WatchResumed`, with what was stored meanwhile read
  as after any start — or the conversation is closed (`stop_following`, or another one
  followed), which ends the tries.

The replies this client streams itself are skipped (the watch marks them `own`), so
nothing shows twice; nothing here moves the user's place, except that a leaf the user put
on a placeholder stays on the reply it becomes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from grove_explorer.client.events import (
    DeletedElsewhere,
    ReplyElsewhereEnded,
    ReplyElsewhereStarted,
    ReplyElsewhereText,
    ResponseAdded,
    WatchReconnecting,
    WatchResumed,
    WatchStopped,
)
from grove_explorer.client.service.base import ServiceBase

if TYPE_CHECKING:
    from grove_explorer.client.conversation import Conversation
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.research import Annotation
    from grove_explorer.client.watching import (
        AnnotationChanged,
        ConversationGone,
        ReplyFinished,
        ReplyStarted,
        ReplyText,
        ResponseStored,
        TitleChanged,
        WatchEvent,
        WatchStarted,
    )

log = logging.getLogger(__name__)

ELSEWHERE_PREFIX = "elsewhere:"
"""Ids of placeholders of replies sampled elsewhere start with this."""

REWATCH_FIRST_DELAY = 0.25
"""Seconds before the first try to watch again after UNAVAILABLE (then doubled)."""
REWATCH_MAX_DELAY = 15.0
"""The longest wait between tries: a server back after a long outage is found soon."""


def same_annotation(known: Annotation | None, seen: Annotation | None) -> bool:
    """Whether `seen` changes nothing of `known`: the same marks, set by the same user.

    Who set them counts only when both say (marks this client set itself hold ""
    until read back), so the echo of the user's own change is not a change.
    """
    if known is None or seen is None:
        return known is seen
    if not known.same_marks(seen):
        return False
    return not (known.set_by and seen.set_by) or known.set_by == seen.set_by


def rewatch_delay(attempt: int) -> float:
    """The wait before try `attempt` (1 first): doubling, capped, with jitter.

    The jitter (half to all of the step) spreads the clients of one restarted server.
    """
    step = min(REWATCH_MAX_DELAY, REWATCH_FIRST_DELAY * 2 ** (attempt - 1))
    return step * random.uniform(0.5, 1.0)


class _Follow:
    """One watch of one open conversation, applying its events to the forest."""

    def __init__(self, service: WatchingService, conversation: Conversation) -> None:
        self.service = service
        self.conversation = conversation
        self.conversation_id = conversation.conversation_id
        self.watcher = ""
        # Set once the watch's first event (its snapshot) was applied.
        self.started = asyncio.Event()
        # Tries since the watch was lost with UNAVAILABLE (0: it was never lost).
        self.retries = 0
        self.task: asyncio.Task[None] = asyncio.create_task(
            self._run(), name=f"grove-watch-{self.conversation_id[:8]}"
        )

    def _by(self, actor: str) -> str:
        """Who made something: "" for the watching user (another session of theirs)."""
        return "" if actor == self.watcher else actor

    async def _run(self) -> None:
        """Watches until the conversation is gone or closed; UNAVAILABLE watches again."""
        from grove_explorer.client.errors import ServerUnavailableError

        while True:
            try:
                await self._watch()
                return
            except ServerUnavailableError as error:
                if not self.current:
                    return
                self._drop_placeholders()
                self.retries += 1
                delay = self.service.rewatch_delay(self.retries)
                lost = WatchReconnecting(self.conversation_id, error, self.retries, delay)
                self.service._publish(lost)
                await asyncio.sleep(delay)  # cancelled when the conversation is closed
                if not self.current:
                    return

    async def _watch(self) -> None:
        """One watch to its end; raises ServerUnavailableError for `_run` to watch again."""
        from grove_explorer.client import watching as w
        from grove_explorer.client.errors import (
            GroveError,
            NotFoundError,
            PermissionDeniedError,
            ServerUnavailableError,
        )

        handlers: dict[type[Any], Callable[[Any], None]] = {
            w.WatchStarted: self._started,
            w.ReplyStarted: self._reply_started,
            w.ReplyText: self._reply_text,
            w.ReplyFinished: self._reply_finished,
            w.ResponseStored: self._stored,
            w.AnnotationChanged: self._annotation,
            w.TitleChanged: self._title,
            w.ConversationGone: self._gone,
        }
        try:
            event: WatchEvent
            async for event in self.conversation.watch():
                if not self.current:
                    return
                handlers[type(event)](event)
                if isinstance(event, w.WatchStarted):
                    await self._catch_up(event.response_count, everything=self.retries > 0)
                    self.started.set()
                    if self.retries:
                        self.service._publish(WatchResumed(self.conversation_id, self.retries))
                        self.retries = 0
        except ServerUnavailableError:
            raise
        except (NotFoundError, PermissionDeniedError):
            if self.current:
                self._drop_placeholders()
                self._unreadable()
        except GroveError as error:
            if self.current:
                self._drop_placeholders()
                self.service._publish(WatchStopped(self.conversation_id, error))
        except Exception:  # a bug here must not take the app down: the watch just ends
            log.exception("following %s failed", self.conversation_id)

    @property
    def current(self) -> bool:
        """Whether this conversation is still the service's open one (not reopened)."""
        return self.service._conversations.get(self.conversation_id) is self.conversation

    @property
    def forest(self) -> Forest:
        """The followed conversation's forest (the SDK conversation's own)."""
        return self.conversation.forest

    async def _catch_up(self, response_count: int, *, everything: bool = False) -> None:
        """Reads what was stored between loading the forest and the watch's start.

        The forest was loaded before the watch began; when the server held more responses
        then than the forest does, the conversation is read again and the missing ones
        join (unmarked: who made them is not known). Rare, and one read. `everything`
        (a watch begun again after it was lost): always read, and annotations, title and
        star changed meanwhile are taken too — no event told of them.
        """
        forest = self.forest
        stored = sum(1 for node in forest.responses.values() if not node.streaming)
        if response_count <= stored and not everything:
            return
        client = await self.service.connected()
        fresh = await client.grok.get_conversation(self.conversation_id)
        if everything:
            self._missed_marks(fresh.forest)
            self._take_title(fresh.title, fresh.starred, fresh.update_time)
        added = 0
        for node in fresh.forest.responses.values():  # creation order: parents first
            if node.response_id in forest.responses:
                continue
            if node.parent_id is not None and node.parent_id not in forest.responses:
                continue
            forest.add(node)
            self.service._publish(ResponseAdded(self.conversation_id, node))
            added += 1
        if added:
            self.service._update_summary(self.conversation_id)

    def _missed_marks(self, fresh: Forest) -> None:
        """Takes the annotations `fresh` holds that differ from the forest's."""
        forest = self.forest
        for node in fresh.responses.values():
            known = forest.responses.get(node.response_id)
            if (
                known is None
                or known.streaming
                or same_annotation(known.annotation, node.annotation)
            ):
                continue
            changed = known.model_copy(update={"annotation": node.annotation})
            forest.add(changed)
            self.service._publish(ResponseAdded(self.conversation_id, changed))

    # -- replies sampled elsewhere ---------------------------------------------------------

    def _add_placeholder(
        self, stream_id: str, parent_id: str | None, model_name: str, actor: str, text: str
    ) -> None:
        from grove_explorer.client.models import LiveResponseNode

        forest = self.forest
        if parent_id is not None and parent_id not in forest.responses:
            return  # the forest is older than that parent: a reload (F5) shows it
        node = LiveResponseNode(
            response_id=ELSEWHERE_PREFIX + stream_id,
            parent_id=parent_id,
            sender="model",
            message="",
            model_name=model_name,
            streaming=True,
            made_by=self._by(actor),
        )
        node.append(text)
        forest.add(node)
        self.service._publish(ReplyElsewhereStarted(self.conversation_id, node))

    def _started(self, event: WatchStarted) -> None:
        self.watcher = event.watcher
        if event.marks is not None:  # a title or star set since the load, by anyone
            self._title(event.marks)
        for reply in event.replies:
            if not reply.own:
                self._add_placeholder(
                    reply.stream_id, reply.parent_id, reply.model_name, reply.actor, reply.text
                )

    def _reply_started(self, event: ReplyStarted) -> None:
        if not event.own:
            self._add_placeholder(
                event.stream_id, event.parent_id, event.model_name, event.actor, ""
            )

    def _reply_text(self, event: ReplyText) -> None:
        if event.own:
            return
        placeholder_id = ELSEWHERE_PREFIX + event.stream_id
        from grove_explorer.client.models import LiveResponseNode

        node = self.forest.responses.get(placeholder_id)
        if not isinstance(node, LiveResponseNode):
            return
        node.append(event.text)
        self.service._publish(ReplyElsewhereText(self.conversation_id, placeholder_id, event.text))

    def _reply_finished(self, event: ReplyFinished) -> None:
        if event.own:
            return
        forest = self.forest
        placeholder_id = ELSEWHERE_PREFIX + event.stream_id
        had_placeholder = placeholder_id in forest.responses
        if event.node is None:
            if had_placeholder:
                forest.remove(placeholder_id)
                ended = ReplyElsewhereEnded(self.conversation_id, placeholder_id, None)
                self.service._publish(ended)
            return
        node = event.node.model_copy(update={"made_by": self._by(event.actor)})
        if had_placeholder:
            on_it = forest.leaf_id == placeholder_id
            forest.replace_placeholder(placeholder_id, node)
            if on_it:
                self.conversation.save_leaf()  # the user's place is now a stored reply
        elif node.parent_id is None or node.parent_id in forest.responses:
            forest.add(node)
        else:
            return
        self.service._publish(ReplyElsewhereEnded(self.conversation_id, placeholder_id, node))
        self.service._update_summary(self.conversation_id)

    # -- other changes ---------------------------------------------------------------------

    def _stored(self, event: ResponseStored) -> None:
        forest = self.forest
        node = event.node
        if event.own or node.response_id in forest.responses:
            return
        if node.parent_id is not None and node.parent_id not in forest.responses:
            return
        node = node.model_copy(update={"made_by": self._by(event.actor)})
        forest.add(node)
        self.service._publish(ResponseAdded(self.conversation_id, node))
        self.service._update_summary(self.conversation_id)

    def _annotation(self, event: AnnotationChanged) -> None:
        forest = self.forest
        node = forest.responses.get(event.response_id)
        if node is None or same_annotation(node.annotation, event.annotation):
            return  # unknown here, or this client's own change (applied already)
        node = node.model_copy(update={"annotation": event.annotation})
        forest.add(node)
        self.service._publish(ResponseAdded(self.conversation_id, node))

    def _title(self, event: TitleChanged) -> None:
        self._take_title(event.title, event.starred, event.update_time)

    def _take_title(self, title: str, starred: bool, update_time: datetime | None) -> None:
        """Takes a title and star read at `update_time`, unless a later state is held."""
        conversation = self.conversation
        if (conversation.title, conversation.starred) == (title, starred):
            return
        if conversation.changed_elsewhere(title, starred, update_time):
            self.service._update_summary(self.conversation_id)

    def _gone(self, event: ConversationGone) -> None:
        self.service._conversations.pop(self.conversation_id, None)
        self.service._publish(DeletedElsewhere(self.conversation_id, self._by(event.actor)))

    def _unreadable(self) -> None:
        """The watch found the conversation no longer readable: closed as a deletion.

        Deleted meanwhile, or (a conversation shared with this user) its share revoked —
        the server does not say which, nor who; the summary says whether it was shared.
        """
        summary = self.forest.conversation
        shared = summary.role != "owner"
        self.service._conversations.pop(self.conversation_id, None)
        by = summary.owner_user_id if shared else ""
        gone = DeletedElsewhere(self.conversation_id, by, unknown=True, unshared=shared)
        self.service._publish(gone)

    def _drop_placeholders(self) -> None:
        """Removes the placeholders of replies sampled elsewhere (the watch is over)."""
        forest = self.forest
        for response_id in [r for r in forest.responses if r.startswith(ELSEWHERE_PREFIX)]:
            forest.remove(response_id)
            self.service._publish(ReplyElsewhereEnded(self.conversation_id, response_id, None))


class WatchingService(ServiceBase):
    """The service's following of the open conversation (see the module)."""

    _follow: _Follow | None = None
    rewatch_delay: Callable[[int], float] = staticmethod(rewatch_delay)
    """The wait before each try to watch again (an attribute, so a test can shorten it)."""

    @property
    def following(self) -> str | None:
        """The conversation whose changes are being followed, if any."""
        follow = self._follow
        return None if follow is None or follow.task.done() else follow.conversation_id

    def follow(self, conversation_id: str | None) -> None:
        """Follows that open conversation's changes made elsewhere (None: none).

        Following the conversation followed already does nothing, unless it was reopened
        or its watch ended (then it starts again: a fresh snapshot).
        """
        current = self._follow
        conversation = self._conversations.get(conversation_id) if conversation_id else None
        if current is not None and current.conversation is conversation and not current.task.done():
            return
        self.stop_following()
        if conversation is not None:
            self._follow = _Follow(self, conversation)

    async def follow_started(self) -> bool:
        """Waits until the followed conversation's watch has begun; False if it ended."""
        current = self._follow
        if current is None:
            return False
        started = asyncio.ensure_future(current.started.wait())
        await asyncio.wait({started, current.task}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        return current.started.is_set()

    def stop_following(self, conversation_id: str | None = None) -> None:
        """Stops following (only `conversation_id`, when given); its placeholders go."""
        current = self._follow
        if current is None or (conversation_id and current.conversation_id != conversation_id):
            return
        self._follow = None
        current.task.cancel()
        if current.current:
            current._drop_placeholders()
