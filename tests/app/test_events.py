"""The bridge from service events to Textual Messages: one Message class per event kind."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from textual.app import App

from grove_explorer.app import events
from grove_explorer.client import events as service_events
from grove_explorer.client.models import ConversationSummary


def test_every_service_event_has_its_own_message() -> None:
    kinds = typing.get_args(service_events.ServiceEvent)
    assert kinds, "ServiceEvent should be a union of event classes"
    assert set(events.MESSAGE_FOR) == set(kinds)
    messages = [events.MESSAGE_FOR[kind] for kind in kinds]
    assert len(set(messages)) == len(messages), "two event kinds share a Message class"
    for kind, message in zip(kinds, messages, strict=True):
        assert message.__name__ == kind.__name__
        assert issubclass(message, events.ServiceMessage)
        assert message.bubble is False
        assert message.handler_name == f"on_{_snake(kind.__name__)}"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_message_for_carries_the_event() -> None:
    event = service_events.ConversationDeleted(conversation_id="c1")
    message = events.message_for(event)
    assert isinstance(message, events.ConversationDeleted)
    assert message.event is event


def test_an_event_class_without_a_message_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        conversation_id: str

    with pytest.raises(KeyError):
        events.message_for(Unknown("c1"))  # type: ignore[arg-type]


class _FakeService:
    """Just the subscription half of ConversationService."""

    def __init__(self) -> None:
        self.listeners: list[typing.Callable[[service_events.ServiceEvent], None]] = []

    def subscribe(
        self, listener: typing.Callable[[service_events.ServiceEvent], None]
    ) -> typing.Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, event: service_events.ServiceEvent) -> None:
        for listener in list(self.listeners):
            listener(event)


class _Recorder(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[object] = []

    def on_conversations_listed(self, message: events.ConversationsListed) -> None:
        self.seen.append(message.event)

    def on_conversation_deleted(self, message: events.ConversationDeleted) -> None:
        self.seen.append(message.event)


async def test_connect_service_posts_each_event_in_order_until_unsubscribed() -> None:
    service = _FakeService()
    app = _Recorder()
    async with app.run_test() as pilot:
        unsubscribe = events.connect_service(service, app)  # type: ignore[arg-type]
        listed = service_events.ConversationsListed(
            conversations=(ConversationSummary(conversation_id="c1", title="t", starred=False),)
        )
        deleted = service_events.ConversationDeleted(conversation_id="c1")
        service.publish(listed)
        service.publish(deleted)
        await pilot.pause()
        assert app.seen == [listed, deleted]
        unsubscribe()
        assert service.listeners == []


def test_no_app_module_dispatches_service_events_by_isinstance() -> None:
    """A new kind of event is a new Message class and handler, never an isinstance branch."""
    import ast
    from pathlib import Path

    kinds = {kind.__name__ for kind in typing.get_args(service_events.ServiceEvent)}
    app_dir = Path(events.__file__).resolve().parent
    offenders = []
    for path in sorted(app_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance"
                and len(node.args) == 2
            ):
                continue
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            if names & kinds:
                offenders.append(f"{path.relative_to(app_dir)}:{node.lineno}")
    assert offenders == []
