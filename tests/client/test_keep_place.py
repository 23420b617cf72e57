"""Keep my place, through the SDK: the leaf is the server's, per user and conversation.

`load()` takes the stored leaf; `Response.select()` returns at once and stores the choice
in the background (`leaf_saved()` waits and raises its failure); `add_response` and
`sample(select=True)` move the stored leaf, `sample(select=False)` — another client's
background sample — never does.
"""

from __future__ import annotations

import logging

import pytest

from grove_explorer.client import Client, NotFoundError
from grove_explorer.client.grok import Conversation
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import collect

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


async def _turn(conversation: Conversation, text: str) -> str:
    stream, future = conversation.add_response(text)
    await collect(stream)
    return (await future).response_id


async def _stored_leaf(client: Client, cid: str) -> str | None:
    wire = await client.stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    return wire.leaf_response_id if wire.HasField("leaf_response_id") else None


async def test_select_is_stored_and_load_returns_to_it(client: Client) -> None:
    conversation = client.grok.create_conversation()
    first = await _turn(conversation, "Tell me about oaks.")
    second = await _turn(conversation, "And maples?")
    assert await _stored_leaf(client, conversation.conversation_id) == second, "add_response"
    conversation.get_response(first).select()  # the seed's synchronous signature
    assert conversation.leaf_response_id == first, "the local leaf moves at once"
    await conversation.leaf_saved()
    assert await _stored_leaf(client, conversation.conversation_id) == first
    again = await client.grok.get_conversation(conversation.conversation_id)
    assert again.leaf_response_id == first, "not the newest response"
    await conversation.load()
    assert conversation.leaf_response_id == first


async def test_a_burst_of_selects_ends_on_the_last_choice(client: Client) -> None:
    conversation = client.grok.create_conversation()
    ids = [await _turn(conversation, f"turn {i}") for i in range(3)]
    for _ in range(5):
        for response_id in ids:
            conversation.get_response(response_id).select()
    conversation.get_response(ids[1]).select()
    await conversation.leaf_saved()
    assert await _stored_leaf(client, conversation.conversation_id) == ids[1]
    assert conversation.leaf_saves <= 3, "moves made while a call runs are coalesced"


async def test_background_samples_never_move_the_place(server: GroveServer) -> None:
    """Another client's sample(select=False) leaves this user's place where it was."""
    async with Client(api_host=server.address) as mine, Client(api_host=server.address) as other:
        conversation = mine.grok.create_conversation()
        first = await _turn(conversation, "Tell me about oaks.")
        theirs = await other.grok.get_conversation(conversation.conversation_id)
        parent = theirs.get_response(first).parent_response_id
        stream = theirs.sample(parent_response_id=parent, select=False)
        _ = [event async for event in stream]
        sampled = await stream.future
        assert theirs.leaf_response_id == first, "not selected locally either"
        reloaded = await mine.grok.get_conversation(conversation.conversation_id)
        assert reloaded.leaf_response_id == first
        assert reloaded.responses[-1].response_id == sampled.response_id
        # sample(select=True) follows the reply, locally and on the server.
        stream = theirs.sample(parent_response_id=parent, select=True)
        _ = [event async for event in stream]
        chosen = (await stream.future).response_id
        assert theirs.leaf_response_id == chosen
        await mine.grok.get_conversation(conversation.conversation_id)
        assert await _stored_leaf(mine, conversation.conversation_id) == chosen


async def test_a_conversation_without_a_stored_place_opens_on_the_newest(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    cid = conversation.conversation_id
    await client.stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(conversation_id=cid, message="a")
    )
    newest = await client.stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(conversation_id=cid, message="b")
    )
    assert await _stored_leaf(client, cid) is None
    loaded = await client.grok.get_conversation(cid)
    assert loaded.leaf_response_id == newest.response_id, "the seed's rule"
    # Choosing no leaf (a new root) is a place too.
    loaded.set_leaf_response_id(None)
    await loaded.leaf_saved()
    assert await _stored_leaf(client, cid) == ""
    assert (await client.grok.get_conversation(cid)).leaf_response_id is None


async def test_a_failed_save_is_logged_and_raised_on_wait(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = client.grok.create_conversation()
    first = await _turn(conversation, "Tell me about oaks.")
    await _turn(conversation, "More.")
    other = await client.grok.get_conversation(conversation.conversation_id)
    await other.delete()  # deleted behind this object's back
    with caplog.at_level(logging.WARNING, logger="grove_explorer.client.leaf_sync"):
        conversation.get_response(first).select()
        with pytest.raises(NotFoundError):
            await conversation.leaf_saved()
    assert "could not save the current response" in caplog.text
    with pytest.raises(NotFoundError):  # each wait tries again (a transient failure heals)
        await conversation.leaf_saved()


async def test_closing_the_client_sends_a_choice_not_waited_for(server: GroveServer) -> None:
    """A script that selects and exits without `leaf_saved()` still keeps its place."""
    async with Client(api_host=server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        first = await _turn(conversation, "Tell me about oaks.")
        await _turn(conversation, "More.")
        conversation.get_response(first).select()
    async with Client(api_host=server.address) as sdk:
        assert await _stored_leaf(sdk, conversation.conversation_id) == first
