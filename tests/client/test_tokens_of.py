"""`Response.tokens_of`: many replies' tokens in few calls, the same as one call each."""

from __future__ import annotations

import pytest

import grove_explorer.client.response as response_module
from grove_explorer.client import Client, Response, SamplingParams
from tests import both_stores
from tests.helpers import collect

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


async def test_tokens_of_equals_one_call_per_reply_across_call_boundaries(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = client.grok.create_conversation()
    for i in range(3):
        stream, future = conversation.add_response(
            f"Question {i}", sampling=SamplingParams(max_tokens=6, seed=i)
        )
        await collect(stream)
        await future
    manual_stream, manual = conversation.responses[-1].replace("Written by hand.")
    await collect(manual_stream)
    await manual
    everyone = list(conversation.responses)
    monkeypatch.setattr(response_module, "TOKENS_PER_CALL", 2)  # several calls
    batched = await Response.tokens_of(everyone)
    assert list(batched) == [r.response_id for r in everyone]
    for response in everyone:
        assert batched[response.response_id] == await response.tokens()
    sampled = [r for r in everyone if r.sender == "model" and not r.manual]
    assert len(sampled) == 3 and all(batched[r.response_id] for r in sampled)
    assert await Response.tokens_of([]) == {}


async def test_tokens_of_refuses_replies_of_two_conversations(client: Client) -> None:
    replies = []
    for _ in range(2):
        conversation = client.grok.create_conversation()
        stream, future = conversation.add_response("Hi", sampling=SamplingParams(max_tokens=2))
        await collect(stream)
        replies.append(await future)
    with pytest.raises(ValueError, match="one conversation"):
        await Response.tokens_of(replies)
