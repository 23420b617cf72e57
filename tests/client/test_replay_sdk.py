"""`Conversation.replay`: a path replayed under another model, reading the NEW branch.

A real server on loopback whose default model is the loopback OpenAI-compatible server
(tests/fake_openai.py, which records every request it receives) and whose second model is
the offline one. The original path is sampled offline; the replay under the fake endpoint
must send the fake's own earlier replies as history, never the original ones.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from grove_explorer.client import Client, Conversation, ReplayStoppedError, SamplingParams
from grove_explorer.client.export import (
    collect_tokens,
    export_json,
    import_request,
    to_dot,
    to_markdown,
)
from grove_explorer.client.export.drawing import conversation_dot, conversation_markdown
from grove_explorer.client.ids import short_id
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import OFFLINE_MODEL_NAME
from tests.fake_openai import DEFAULT_REPLY, FakeOpenAI

FAKE_TEXT = "".join(DEFAULT_REPLY)


@pytest.fixture
async def sdk(openai_server: GroveServer) -> AsyncIterator[Client]:
    """An SDK client of the server whose default model is the fake endpoint ("fake")."""
    async with Client(api_host=openai_server.address) as client:
        yield client


async def _sample(conversation: Conversation, message: str, parent: str | None) -> str:
    """Samples offline under `parent`; returns the model reply's id."""
    stream = conversation.sample(message, parent_response_id=parent, model_name=OFFLINE_MODEL_NAME)
    async for _ in stream:
        pass
    return (await stream.future).response_id


async def _path(client: Client) -> tuple[Conversation, list[str]]:
    """Q1 → A1 → Q2 → A2 → A3 (a reply under a reply), all sampled offline."""
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    a1 = await _sample(conversation, "Why do leaves fall?", None)
    a2 = await _sample(conversation, "And in spring?", a1)
    a3 = await _sample(conversation, "", a2)
    q1 = conversation.get_response(a1).parent_response_id
    q2 = conversation.get_response(a2).parent_response_id
    assert q1 is not None and q2 is not None
    return conversation, [q1, a1, q2, a2, a3]


def _contents(request: dict[str, object]) -> list[str]:
    messages = request["messages"]
    assert isinstance(messages, list)
    return [m["content"] for m in messages if m["role"] != "system"]


async def test_replay_copies_humans_and_resamples_every_model_turn_on_the_new_branch(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    client = sdk
    conversation, original = await _path(client)
    q1, a1, q2, a2, a3 = original
    leaf_before = conversation.leaf_response_id
    fake_openai.requests.clear()
    seen: list[tuple[int, int]] = []

    result = await conversation.replay(
        a3,
        model_name="fake",
        system_prompt_name="fun",
        sampling=SamplingParams(temperature=0.3),
        progress=lambda step, total: seen.append((step, total)),
    )

    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [(t.original_id, t.kind) for t in result.turns] == [
        (q1, "human"),
        (a1, "reply"),
        (q2, "human"),
        (a2, "reply"),
        (a3, "reply"),
    ]
    assert result.extra_ids == () and result.model_name == "fake"
    new = [conversation.get_response(t.replayed_id) for t in result.turns]
    assert result.leaf_id == new[-1].response_id and result.original_leaf_id == a3
    # The new branch is a parallel path: a new root, each turn under the one before.
    assert new[0].parent_response_id is None
    assert [n.parent_response_id for n in new[1:]] == [n.response_id for n in new[:-1]]
    assert [n.replay_of for n in new] == original
    assert [n.message for n in new[::2]][:2] == [
        conversation.get_response(q1).message,
        conversation.get_response(q2).message,
    ]
    replies = [new[1], new[3], new[4]]
    assert all(r.message == FAKE_TEXT and r.model_name == "fake" for r in replies)
    assert all(r.system_prompt_name == "fun" for r in replies)
    assert all(r.system_prompt_name == "fun" for r in replies)
    assert all(
        r.sampling_params is not None and r.sampling_params.temperature == pytest.approx(0.3)
        for r in replies
    )
    # The endpoint read the NEW branch: its own first answer, not the offline one.
    assert len(fake_openai.requests) == 3
    original_a1 = conversation.get_response(a1).message
    second = _contents(fake_openai.requests[1])
    assert second == [conversation.get_response(q1).message, FAKE_TEXT, new[2].message]
    assert original_a1 not in second
    assert conversation.leaf_response_id == leaf_before, "the user's place did not move"

    # Stored as made: a reload reads the provenance back, and an export / import keeps it
    # (originals mapped to the copy's new ids).
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert [reloaded.get_response(n.response_id).replay_of for n in new] == original
    document = export_json(reloaded, await collect_tokens(reloaded))
    entries = {entry["response_id"]: entry for entry in document["responses"]}
    assert entries[new[1].response_id]["replay_of"] == a1
    assert entries[new[1].response_id]["system_prompt_name"] == "fun"
    assert "replay_of" not in entries[a1], "other entries unchanged"
    words = f"↻ replay of {short_id(a1)}"
    markdown = conversation_markdown(reloaded, all_branches=True)
    assert words in markdown and markdown == to_markdown(document, all_branches=True)
    dot = conversation_dot(reloaded)
    assert words in dot and dot == to_dot(document)
    copy = await client.grok.import_conversation(import_request(json.loads(json.dumps(document))))
    by_text = {(r.message, r.replay_of != ""): r for r in copy.responses}
    copied_q1 = by_text[(conversation.get_response(q1).message, False)]
    assert by_text[(conversation.get_response(q1).message, True)].replay_of == (
        copied_q1.response_id
    )


async def test_replay_from_a_node_shares_the_path_above_it(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    client = sdk
    conversation, (_q1, a1, q2, a2, a3) = await _path(client)
    fake_openai.requests.clear()
    result = await conversation.replay(a2, model_name="fake", from_response_id=q2)
    assert [t.original_id for t in result.turns] == [q2, a2]
    copy = conversation.get_response(result.turns[0].replayed_id)
    assert copy.parent_response_id == a1, "the branch forks beside q2"
    (request,) = fake_openai.requests
    assert _contents(request)[1] == conversation.get_response(a1).message

    with pytest.raises(ValueError, match="is not on the path to"):
        await conversation.replay(a1, model_name="fake", from_response_id=a3)


async def test_a_failed_step_keeps_what_was_made_and_says_where(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    client = sdk
    conversation, (q1, a1, q2, _a2, a3) = await _path(client)

    def fail_from_step_two(step: int, total: int) -> None:
        if step == 2:
            fake_openai.fail_status = 400
            fake_openai.fail_message = "no more today"

    with pytest.raises(ReplayStoppedError) as info:
        await conversation.replay(a3, model_name="fake", progress=fail_from_step_two)
    error = info.value
    assert (error.step, error.total, error.original_id) == (2, 3, q2)
    partial = error.partial
    # Step 2's human copy was stored before its reply failed: it stays, named.
    assert [t.original_id for t in partial.turns] == [q1, a1, q2]
    assert partial.leaf_id == partial.turns[-1].replayed_id
    assert "The replay stopped at step 2 of 3" in str(error)
    assert "the 3 replayed turns made so far stay in the tree" in str(error)
    assert "no more today" in str(error)
