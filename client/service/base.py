"""The service's core: its state, subscribers, open conversations and navigation.

`ServiceBase` holds what every part of `ConversationService` shares: the client, the
listeners and `_publish`, the open SDK conversations (whose forests are the state the UI
shows) and the leaf moves. `streaming.StreamingService` adds sending and streaming
replies; `conversations.ConversationService` the rest of the operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grove_explorer.client.events import (
    ConversationOpened,
    ConversationUpdated,
    LeafMoved,
    Listener,
    ServiceEvent,
)

if TYPE_CHECKING:
    # The SDK's gRPC side: the service is built (and the app's first frame painted)
    # before a connection exists, so these are imported with the first call.
    from grove_explorer.client.catalog import ModelCatalog
    from grove_explorer.client.client import Client
    from grove_explorer.client.conversation import Conversation
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.models import ConversationSummary, TokenInfo
    from grove_explorer.client.streams import SampleStream

log = logging.getLogger(__name__)


@dataclass(eq=False)
class RunningStream:
    """A stream the service runs: its placeholder, the SDK stream and the task running it."""

    conversation_id: str
    placeholder_id: str
    stream: SampleStream
    task: asyncio.Task[object] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ServiceBase:
    """State, subscription and navigation shared by the service's operations."""

    def __init__(self, client: Client | Awaitable[Client]) -> None:
        """A service over `client`, or over what gives it once connected.

        A UI that starts its own server shows its first screen meanwhile; every call
        waits for the client (`connected`).
        """
        self._client: Client | None = None
        self._client_ready: asyncio.Future[Client] | None = None
        if inspect.isawaitable(client):
            self._client_ready = asyncio.ensure_future(client)
        else:
            self._client = client
        self._listeners: list[Listener] = []
        self._conversations: dict[str, Conversation] = {}
        self._opened = 0
        self._streams: dict[str, RunningStream] = {}
        self._placeholder_seq = 0
        self._catalog: ModelCatalog | None = None
        self._tokens: dict[tuple[str, str], list[TokenInfo]] = {}

    @property
    def api_host(self) -> str:
        """The server this service talks to ("" while it is not known yet)."""
        return self._client.api_host if self._client is not None else ""

    async def connected(self) -> Client:
        """The client, once there is one.

        Raises what prevented it (e.g. a server that could not start).
        """
        if self._client is None:
            assert self._client_ready is not None
            self._client = await asyncio.shield(self._client_ready)
        return self._client

    # -- subscription ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Calls `listener` with every event from now on; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _publish(self, event: ServiceEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the stream for others
                log.exception("listener failed on %s", type(event).__name__)

    def forest(self, conversation_id: str) -> Forest:
        """The forest of an open conversation: the SDK conversation's own.

        Raises KeyError if the conversation was not opened.
        """
        return self._conversations[conversation_id].forest

    @property
    def opened(self) -> int:
        """How many times a conversation was opened (created, loaded, imported) so far.

        A view that asks the server something before opening one itself (the newest
        conversation at start) can tell whether another one was opened meanwhile: the
        event saying so may not have reached it yet.
        """
        return self._opened

    def _adopt(self, conversation: Conversation) -> Forest:
        self._opened += 1
        self._conversations[conversation.conversation_id] = conversation
        forest = conversation.forest
        self._publish(ConversationOpened(forest))
        return forest

    def _conversation(self, conversation_id: str) -> Conversation:
        try:
            return self._conversations[conversation_id]
        except KeyError:
            raise KeyError(f"Conversation {conversation_id!r} is not open.") from None

    def _update_summary(self, conversation_id: str) -> ConversationSummary:
        conversation = self._conversation(conversation_id)
        forest = conversation.forest
        summary = forest.conversation.model_copy(
            update={
                "title": conversation.title,
                "starred": conversation.starred,
                "response_count": len(forest.responses),
            }
        )
        forest.conversation = summary
        self._publish(ConversationUpdated(summary))
        return summary

    # -- navigation ------------------------------------------------------------------------

    def select(self, conversation_id: str, leaf_id: str | None) -> None:
        """Makes `leaf_id` the end of the current path (the SDK conversation's leaf too).

        The choice is the user's place on the server too, sent in the background (a
        streaming placeholder counts as its parent until its reply is stored and followed).
        """
        conversation = self._conversation(conversation_id)
        conversation.forest.select(leaf_id)
        conversation.save_leaf()
        self._publish(LeafMoved(conversation_id, leaf_id))

    def switch_sibling(self, conversation_id: str, response_id: str, delta: int) -> str | None:
        """Moves to a sibling of `response_id` and its last-visited leaf; None at the ends."""
        conversation = self._conversation(conversation_id)
        leaf = conversation.forest.switch_sibling(response_id, delta)
        if leaf is not None:
            conversation.save_leaf()
            self._publish(LeafMoved(conversation_id, leaf))
        return leaf

    async def leaf_saved(self, conversation_id: str) -> None:
        """Waits until the server holds the conversation's current leaf; raises its failure.

        `select` and `switch_sibling` return at once; a UI runs this in the background
        after them so a failure to store the place is reported rather than lost.
        """
        conversation = self._conversations.get(conversation_id)
        if conversation is not None:
            await conversation.leaf_saved()
