"""Identity from `authorization: Bearer` metadata, and isolation between users."""

from __future__ import annotations

import pytest

from grove_explorer.client import Client, NotFoundError, UnauthenticatedError
from grove_explorer.server.auth import hash_key
from tests.helpers import collect


@pytest.fixture
async def two_user_server(make_server):
    running = make_server(api_keys={hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"})
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_missing_or_wrong_key_is_unauthenticated(two_user_server) -> None:
    async with Client(api_host=two_user_server.address, api_key="") as anonymous:
        with pytest.raises(UnauthenticatedError, match="requires an API key"):
            await anonymous.grok.list_conversations()
    async with Client(api_host=two_user_server.address, api_key="wrong") as stranger:
        with pytest.raises(UnauthenticatedError, match="not valid"):
            await stranger.grok.list_conversations()
        with pytest.raises(UnauthenticatedError, match="not valid"):
            await stranger.grok.list_models()
    async with Client(api_host=two_user_server.address, api_key="key-bob") as bob:
        assert (await bob.grok.list_models()).default_model


async def test_users_cannot_see_each_others_conversations(two_user_server) -> None:
    address = two_user_server.address
    async with (
        Client(api_host=address, api_key="key-alice") as alice,
        Client(api_host=address, api_key="key-bob") as bob,
    ):
        conversation = alice.grok.create_conversation()
        stream, future = conversation.add_response("Alice's secret garden")
        await collect(stream)
        reply = await future
        cid = conversation.conversation_id

        assert await bob.grok.list_conversations() == []
        with pytest.raises(NotFoundError):
            await bob.grok.get_conversation(cid)
        intruder = bob.grok.create_conversation()
        intruder._conversation_id = cid
        intruder._conversation = conversation._conversation  # pretend it was loaded
        for attempt in (
            intruder.set_title("mine"),
            intruder.star(),
            intruder.generate_title(),
            intruder.delete(),
        ):
            with pytest.raises(NotFoundError):
                await attempt
        stream, future = intruder.add_response("let me in")
        with pytest.raises(NotFoundError):
            await collect(stream)
        with pytest.raises(NotFoundError):
            await future
        intruder._responses = {}
        from grove_explorer.client.grok import Response

        with pytest.raises(NotFoundError):
            await Response(reply.proto, intruder, bob.stub).share()

        # Alice's conversation is untouched.
        loaded = await alice.grok.get_conversation(cid)
        assert loaded.title == "" and not loaded.starred
        assert len(loaded.responses) == 2
        assert not any(r.shared for r in loaded.responses)
