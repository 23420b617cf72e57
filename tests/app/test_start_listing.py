"""The start-up listing opens the newest conversation only if nothing was opened meanwhile.

At start the explorer lists the conversations and opens the newest. A conversation the
user starts while that list is on its way is opened before the event saying so reaches
the screen; the listing must not then open another one over it (nor reload it as a new
object while its first calls run: the snapshot tests met that under load, a title
generated on the old object was lost and the next star sent an empty title).
"""

from __future__ import annotations

import pytest

from grove_explorer.client import Client
from grove_explorer.client.models import ConversationSummary
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle


async def test_a_conversation_started_while_the_list_comes_stays_open(
    server: GroveServer, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = client.grok.create_conversation()
    await older.ensure_created()
    async with explorer(server.address) as (_, pilot, screen):
        service = screen.service
        assert screen.conversation_id == older.conversation_id, "the newest, opened at start"
        screen._close_conversation()
        await settle(pilot)
        listed = service.list_conversations
        started: list[str] = []

        async def list_then_start() -> list[ConversationSummary]:
            """The list arrives; the user's new conversation opens right after it."""
            summaries = await listed()
            forest = await service.new_conversation()
            started.append(forest.conversation.conversation_id)
            return summaries  # without the new one: read before it existed

        monkeypatch.setattr(service, "list_conversations", list_then_start)
        opened = service.opened
        await screen._open_newest()
        await settle(pilot)
        assert service.opened == opened + 1, "only the user's conversation was opened"
        assert screen.conversation_id == started[0]
