"""The SDK's arena calls against a real server: votes round-trip as pydantic records."""

from __future__ import annotations

import pytest

from grove_explorer.client import Client
from grove_explorer.client.arena import Setup
from grove_explorer.client.errors import InvalidArgumentError, NotFoundError
from tests.helpers import collect


async def test_record_and_list_votes(client: Client) -> None:
    grok = client.grok
    conversation = grok.create_conversation()
    stream, future = conversation.add_response("compare us")
    await collect(stream)
    first = await future
    parent = first.parent_response_id
    assert parent is not None
    again = conversation.sample(parent_response_id=parent)
    async for _ in again:
        pass
    second = await again.future
    cold = Setup(model_name="grove-offline-ngram", temperature=0.2)
    hot = Setup(model_name="grove-offline-ngram", temperature=1.2, system_prompt_name="")
    vote = await grok.record_vote(
        conversation.conversation_id,
        parent,
        second.response_id,
        first.response_id,
        hot,
        cold,
        "a",
    )
    assert vote.setup_a == hot and vote.setup_b == cold
    assert vote.winner == second.response_id and vote.create_time is not None
    assert await grok.list_votes(conversation.conversation_id) == [vote]
    assert await grok.list_votes() == [vote]
    with pytest.raises(InvalidArgumentError, match="same reply"):
        await grok.record_vote(
            conversation.conversation_id,
            parent,
            first.response_id,
            first.response_id,
            hot,
            cold,
            "tie",
        )
    with pytest.raises(NotFoundError):
        await grok.list_votes("0" * 32)


async def test_a_stream_can_name_its_own_system_prompt(client: Client) -> None:
    """The arena's per-setup prompt reaches the server: an unknown one is refused there."""
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("hello")
    await collect(stream)
    parent = (await future).parent_response_id
    fun = conversation.sample(parent_response_id=parent, system_prompt=(True, "fun"))
    async for _ in fun:
        pass
    assert (await fun.future).parent_response_id == parent
    unknown = conversation.sample(parent_response_id=parent, system_prompt=(True, "nope"))
    with pytest.raises(InvalidArgumentError, match="Unknown system prompt 'nope'"):
        async for _ in unknown:
            pass
    with pytest.raises(InvalidArgumentError):
        await unknown.future
