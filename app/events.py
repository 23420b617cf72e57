"""Service events as Textual Messages: one Message class per kind of service event.

`ConversationService` publishes frozen dataclasses (`grove_explorer.client.events`); a
screen that wants them calls `connect_service(service, screen)`, the one bridge, which
re-posts each event as the Message class `MESSAGE_FOR` maps its class to. Screens handle
each kind in its own `on_…` / `@on(...)` method; a new kind of event is a new class here
and a new line in `MESSAGE_FOR` (a test checks that every member of `ServiceEvent` has
one), never a new branch in an isinstance ladder.

The messages do not bubble: each is posted to the screen that subscribed, and only that
screen reacts (the explorer and the compare screen each hold their own subscription).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from grove_explorer.client import events as service
from grove_explorer.client.events import ServiceEvent
from grove_explorer.client.service import ConversationService

E = TypeVar("E")


class ServiceMessage(Message, Generic[E], bubble=False):
    """A service event delivered on a screen's message queue; `event` is the event itself."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Textual's default for a subclass is to bubble; these are for their target only.
        kwargs.setdefault("bubble", False)
        super().__init_subclass__(**kwargs)

    def __init__(self, event: E) -> None:
        super().__init__()
        self.event = event


class ConversationsListed(ServiceMessage[service.ConversationsListed]):
    """The list of conversations was (re)loaded."""


class ConversationOpened(ServiceMessage[service.ConversationOpened]):
    """A conversation's forest was loaded."""


class ConversationUpdated(ServiceMessage[service.ConversationUpdated]):
    """Title or star of a conversation changed."""


class ConversationDeleted(ServiceMessage[service.ConversationDeleted]):
    """A conversation was deleted."""


class ResponseAdded(ServiceMessage[service.ResponseAdded]):
    """A response joined the forest (a stored one, or a streaming placeholder)."""


class TokensAppended(ServiceMessage[service.TokensAppended]):
    """Tokens arrived for a streaming placeholder."""


class ResponseCompleted(ServiceMessage[service.ResponseCompleted]):
    """A stream ended; its placeholder is now a stored response."""


class StreamFailed(ServiceMessage[service.StreamFailed]):
    """A stream failed (a partial reply may have been kept)."""


class SettingsChanged(ServiceMessage[service.SettingsChanged]):
    """The model or system prompt of a conversation changed."""


class LeafMoved(ServiceMessage[service.LeafMoved]):
    """The current path of a conversation ends somewhere else."""


class BudgetUpdated(ServiceMessage[service.BudgetUpdated]):
    """Token budget of a running stream."""


class QueryPerformed(ServiceMessage[service.QueryPerformed]):
    """The model reported a query action."""


class ReplyElsewhereStarted(ServiceMessage[service.ReplyElsewhereStarted]):
    """A reply sampled by another session or user began (its placeholder is in the forest)."""


class ReplyElsewhereText(ServiceMessage[service.ReplyElsewhereText]):
    """New text of a reply sampled elsewhere."""


class ReplyElsewhereEnded(ServiceMessage[service.ReplyElsewhereEnded]):
    """A reply sampled elsewhere was stored (or ended with nothing stored)."""


class DeletedElsewhere(ServiceMessage[service.DeletedElsewhere]):
    """The open conversation was deleted by another session or user."""


class WatchStopped(ServiceMessage[service.WatchStopped]):
    """Live updates of the open conversation stopped (an error)."""


class WatchReconnecting(ServiceMessage[service.WatchReconnecting]):
    """The open conversation's watch was lost (UNAVAILABLE) and is tried again."""


class WatchResumed(ServiceMessage[service.WatchResumed]):
    """The open conversation is watched again after it was lost."""


MESSAGE_FOR: Mapping[type[Any], type[ServiceMessage[Any]]] = {
    service.ConversationsListed: ConversationsListed,
    service.ConversationOpened: ConversationOpened,
    service.ConversationUpdated: ConversationUpdated,
    service.ConversationDeleted: ConversationDeleted,
    service.ResponseAdded: ResponseAdded,
    service.TokensAppended: TokensAppended,
    service.ResponseCompleted: ResponseCompleted,
    service.StreamFailed: StreamFailed,
    service.SettingsChanged: SettingsChanged,
    service.LeafMoved: LeafMoved,
    service.BudgetUpdated: BudgetUpdated,
    service.QueryPerformed: QueryPerformed,
    service.ReplyElsewhereStarted: ReplyElsewhereStarted,
    service.ReplyElsewhereText: ReplyElsewhereText,
    service.ReplyElsewhereEnded: ReplyElsewhereEnded,
    service.DeletedElsewhere: DeletedElsewhere,
    service.WatchStopped: WatchStopped,
    service.WatchReconnecting: WatchReconnecting,
    service.WatchResumed: WatchResumed,
}
"""The Message class of each service event class."""


def message_for(event: ServiceEvent) -> ServiceMessage[Any]:
    """The Message that carries `event` (KeyError for an event class without one)."""
    return MESSAGE_FOR[type(event)](event)


def connect_service(service: ConversationService, target: MessagePump) -> Callable[[], None]:
    """Delivers every event of `service` to `target` as its own Message; returns unsubscribe.

    The service calls listeners synchronously from its own tasks; posting only queues the
    message, so the handlers run on the target's queue, in the order the events happened.
    """

    def deliver(event: ServiceEvent) -> None:
        target.post_message(message_for(event))

    return service.subscribe(deliver)
