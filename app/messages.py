"""Textual messages that carry service events to the screen."""

from __future__ import annotations

from textual.message import Message

from grove_explorer.client.service import ServiceEvent


class ServiceUpdate(Message):
    """A `ConversationService` event, delivered on the app's message queue."""

    def __init__(self, event: ServiceEvent) -> None:
        super().__init__()
        self.event = event
