"""Short ids accepted back as prefixes: the rule, the SDK lookups, and their errors."""

from __future__ import annotations

import pytest

from grove_explorer.client import AmbiguousIdError, Client, NotFoundError, SamplingParams
from grove_explorer.client.ids import resolve_id
from tests.helpers import collect

IDS = ["abcd1111", "abcd2222", "ffff0000"]


def test_resolve_id_takes_whole_ids_and_unique_prefixes() -> None:
    assert resolve_id("abcd1111", IDS, "response") == "abcd1111"
    assert resolve_id("  ABCD2 ", IDS, "response") == "abcd2222", "case and spaces forgiven"
    assert resolve_id("ffff", IDS, "response") == "ffff0000"
    assert resolve_id("fff", IDS, "response") is None, "under 4 characters: whole ids only"
    assert resolve_id("0000", IDS, "response") is None, "a prefix, not a substring"
    with pytest.raises(AmbiguousIdError) as caught:
        resolve_id("abcd", IDS, "response")
    error = caught.value
    assert isinstance(error, KeyError), "callers catching KeyError keep working"
    assert error.candidates == ("abcd1111", "abcd2222")
    assert str(error) == "'abcd' matches 2 responses: abcd1111, abcd2222. Give more of the id."
    many = [f"abcd{i:04}" for i in range(25)]
    with pytest.raises(AmbiguousIdError, match=r"matches 25 conversations: .* and 15 more\."):
        resolve_id("abcd", many, "conversation")


async def test_sdk_lookups_accept_a_unique_prefix(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Name the oaks.", sampling=SamplingParams(max_tokens=5)
    )
    await collect(stream)
    reply = await future
    cid = conversation.conversation_id

    assert conversation.get_response(reply.response_id[:8]).response_id == reply.response_id
    with pytest.raises(KeyError):
        conversation.get_response("zzzzzzzz")

    loaded = await client.grok.get_conversation(cid[:8])
    assert loaded.conversation_id == cid
    assert loaded.get_response(reply.response_id[:6]).message == reply.message
    with pytest.raises(
        NotFoundError, match=r"No conversation id starts with 'ffffzzzz' \(among 1 "
    ):
        await client.grok.get_conversation("ffffzzzz")
    full = await client.grok.get_conversation(cid)
    assert full.conversation_id == cid
