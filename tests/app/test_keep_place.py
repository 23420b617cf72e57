"""Keep my place in the app: moves are stored on the server, and reopening, F5 and a new
session show the stored place — not a reply another client sampled in the background."""

from __future__ import annotations

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle

SIZE = (130, 40)


async def _background_sample(address: str, cid: str, parent: str) -> str:
    """What `grove sample` does from another process: a reply that must not move the place."""
    async with Client(api_host=address) as other:
        conversation = await other.grok.get_conversation(cid)
        stream = conversation.sample(parent_response_id=parent, select=False)
        _ = [event async for event in stream]
        return (await stream.future).response_id


async def _stored_leaf(address: str, cid: str) -> str:
    async with Client(api_host=address) as sdk:
        wire = await sdk.stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    return wire.leaf_response_id


async def test_f5_and_reopening_keep_the_place_after_a_background_sample(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "What grows in a forest?")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        cid = forest.conversation.conversation_id
        first = forest.leaf_id
        assert first is not None
        human = forest.responses[first].parent_id
        assert human is not None
        screen.thread.focus()
        await pilot.press("r")  # a resample the user started: the place follows it
        await settle(pilot)
        second = screen.forest.leaf_id
        assert second not in (None, first)
        assert await _stored_leaf(server.address, cid) == second
        screen.thread.focus_message(second)
        await pilot.press("left")  # back to the first branch
        await settle(pilot)
        assert screen.forest.leaf_id == first
        assert await _stored_leaf(server.address, cid) == first, "the move reached the server"

        sampled = await _background_sample(server.address, cid, human)
        await pilot.press("f5")
        await settle(pilot)
        reloaded = screen.forest
        assert reloaded is not None and sampled in reloaded.responses, "F5 shows the new reply"
        assert reloaded.leaf_id == first, "but the place is where the user left it"
        assert screen.thread.focused_response_id != sampled

    # A new session (the app restarted, or another terminal) opens on the same place.
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        screen.action_open_conversation(cid)
        await settle(pilot)
        assert screen.forest is not None
        assert screen.forest.leaf_id == first
        assert [n.response_id for n in screen.forest.current_path] == [human, first]
