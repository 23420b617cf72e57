"""Random sequences of operations keep the forest's invariants (hypothesis)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grove_explorer.client import Client, Conversation, SamplingParams
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect

# Each step: (operation, index used to pick a target response, text)
OPERATIONS = st.sampled_from(["send", "resample", "replace", "select", "select_root", "reload"])
STEPS = st.lists(
    st.tuples(
        OPERATIONS,
        st.integers(min_value=0, max_value=10_000),
        # Lone surrogates cannot be sent (the SDK refuses them before sending; see
        # tests/server/test_bad_input.py), so the steps use text that can.
        st.text(
            st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
            min_size=1,
            max_size=30,
        ),
    ),
    min_size=1,
    max_size=12,
)


def check_invariants(conversation: Conversation) -> None:
    responses = {r.response_id: r for r in conversation.responses}
    for response in responses.values():
        if response.parent_response_id is not None:
            assert response.parent_response_id in responses, "every parent is in the conversation"
        # Walking up terminates: no cycles.
        seen: set[str] = set()
        node = response
        while node is not None:
            assert node.response_id not in seen, "cycle in the response graph"
            seen.add(node.response_id)
            node = node.parent_response
        # Model replies sampled by the server answer a human or are roots/resamples.
    leaf = conversation.leaf_response_id
    assert leaf is None or leaf in responses, "the leaf is a member of the forest"
    roots = list(conversation.root_responses)
    assert all(r.parent_response_id is None for r in roots)
    counted = len(roots) + sum(len(r.children) for r in responses.values())
    assert counted == len(responses), "children lists partition the forest"


async def _run(steps: list[tuple[str, int, str]], server: GroveServer) -> None:
    async with Client(api_host=server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        await conversation.ensure_created()
        small = SamplingParams(max_tokens=5)
        for operation, index, text in steps:
            responses = conversation.responses
            target = responses[index % len(responses)] if responses else None
            if not text.strip():
                text = "x" + text
            if operation == "send" or target is None:
                stream, future = conversation.add_response(text, sampling=small)
                await collect(stream)
                await future
            elif operation == "resample":
                if target.sender == "model":
                    stream, future = await target.resample(sampling=small)
                    await collect(stream)
                    reply = await future
                    assert reply.parent_response_id == target.parent_response_id
            elif operation == "replace":
                stream, future = target.replace(text)
                await collect(stream)
                reply = await future
                assert reply.sender == "model"
            elif operation == "select":
                target.select()
            elif operation == "select_root":
                conversation.set_leaf_response_id(None)
            elif operation == "reload":
                leaf = conversation.leaf_response_id
                before = {r.response_id for r in conversation.responses}
                await conversation.load()
                assert {r.response_id for r in conversation.responses} == before
                conversation.set_leaf_response_id(leaf)
            check_invariants(conversation)
        # What the server stored equals what the client saw.
        server_view = await sdk.grok.get_conversation(conversation.conversation_id)
        assert [(r.response_id, r.parent_response_id) for r in server_view.responses] == [
            (r.response_id, r.parent_response_id) for r in conversation.responses
        ]
        check_invariants(server_view)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=STEPS)
def test_random_operations_keep_forest_invariants(steps: list[tuple[str, int, str]]) -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as folder:
            server = GroveServer(ServerConfig(port=0, db=Path(folder) / "grove.sqlite3"))
            await server.start()
            try:
                await _run(steps, server)
            finally:
                await server.stop()

    asyncio.run(scenario())
