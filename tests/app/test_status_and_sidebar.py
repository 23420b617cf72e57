"""The status line and the sidebar describe the open conversation, not a previous one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text

from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle
from tests.helpers import collect

SIZE = (130, 40)


async def _titled(sdk: Client, title: str) -> str:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Hello there", sampling=SamplingParams(max_tokens=5))
    await collect(stream)
    await future
    await conversation.set_title(title)
    return conversation.conversation_id


async def test_status_line_forgets_the_previous_conversations_tokens(
    server: GroveServer,
) -> None:
    async with Client(api_host=server.address) as sdk:
        other = await _titled(sdk, "Other")
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await settle(pilot)
        assert screen.conversation_id == other, "the newest conversation opens at start"
        screen.action_new_conversation()
        await settle(pilot)
        await send(pilot, "Tell me about rivers")
        await settle(pilot)
        first = screen.conversation_id
        assert first not in (None, other) and "tokens " in screen.status.shown.plain

        screen.action_new_conversation()  # `n`
        await settle(pilot)
        assert screen.conversation_id not in (None, first)
        assert "tokens " not in screen.status.shown.plain, screen.status.shown.plain

        screen.action_open_conversation(first)
        await settle(pilot)
        await send(pilot, "And lakes?")
        await settle(pilot)
        assert "tokens " in screen.status.shown.plain
        screen.action_open_conversation(other)
        await settle(pilot)
        assert screen.conversation_id == other
        assert "tokens " not in screen.status.shown.plain, "opening another clears them"


def _age_of(sidebar: ConversationList, conversation_id: str) -> str:
    prompt = sidebar.options.get_option(conversation_id).prompt
    assert isinstance(prompt, Text)
    return prompt.plain.rsplit(" ", 1)[-1]


async def test_sidebar_times_age_and_follow_the_open_conversation(server: GroveServer) -> None:
    async with Client(api_host=server.address) as sdk:
        older = await _titled(sdk, "Older")
        newer = await _titled(sdk, "Newer")
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        sidebar = screen.query_one(ConversationList)
        ids = [s.conversation_id for s in sidebar.summaries]
        assert ids.index(newer) < ids.index(older)
        assert _age_of(sidebar, older) == "now"

        # Time passes: a timer redraws the ages (here its tick is called at a later time).
        later = datetime.now(UTC) + timedelta(minutes=10)
        sidebar.clock = lambda: later
        sidebar.refresh_ages()
        await pilot.pause()
        assert _age_of(sidebar, older) == "10m" and _age_of(sidebar, newer) == "10m"
        assert any(timer.name == "conversation ages" for timer in sidebar._timers)

        # A message in the open conversation makes it the newest, "now" again.
        sidebar.clock = lambda: datetime.now(UTC)
        screen.action_open_conversation(older)
        await settle(pilot)
        await send(pilot, "One more question")
        await settle(pilot)
        ids = [s.conversation_id for s in sidebar.summaries]
        assert ids.index(older) < ids.index(newer), "the open conversation moved up"
        assert _age_of(sidebar, older) == "now"
