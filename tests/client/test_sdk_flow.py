"""The seed's flows end to end: SDK → gRPC → real server → each store, and back.

Every test runs twice, on a SQLite file and on a PostgreSQL database (tests/both_stores.py).
"""

from __future__ import annotations

import asyncio

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import collect

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


async def test_linear_conversation_streams_and_resolves(client: Client) -> None:
    conversation = client.grok.create_conversation()
    token_stream, future = conversation.add_response("Tell me about oak trees in the forest.")
    assert not future.done(), "the future resolves only while the stream is iterated"
    tokens = [t async for t in token_stream]
    reply = await future
    assert len(tokens) > 1
    assert "".join(tokens) == reply.message
    assert reply.sender == "model"
    assert not reply.partial and not reply.manual
    human = reply.parent_response
    assert human is not None and human.sender == "human"
    assert human.message == "Tell me about oak trees in the forest."
    assert human.parent_response_id is None
    assert conversation.leaf_response_id == reply.response_id
    assert [r.response_id for r in conversation.root_responses] == [human.response_id]

    # A second turn continues under the leaf.
    stream2, future2 = conversation.add_response("And maples?")
    await collect(stream2)
    reply2 = await future2
    assert reply2.parent_response.parent_response_id == reply.response_id


async def test_provenance_is_recorded_and_reproducible(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("Describe a garden in spring.")
    await collect(stream)
    first = await future
    params = first.sampling_params
    assert params is not None and params.seed is not None, "a drawn seed is recorded"
    assert first.model_name
    assert first.token_count > 0
    assert first.total_time >= first.time_to_first_token >= 0

    # Resampling with the recorded parameters reproduces the sample exactly.
    stream, future = await first.resample(sampling=params)
    await collect(stream)
    again = await future
    assert again.message == first.message
    assert again.sampling_params == params
    assert again.response_id != first.response_id
    assert again.parent_response_id == first.parent_response_id


async def test_resamples_differ_and_become_siblings(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("What is a branching conversation?")
    await collect(stream)
    first = await future
    messages = {first.message}
    for _ in range(3):
        stream, future = await first.resample()
        await collect(stream)
        sibling = await future
        assert sibling.parent_response_id == first.parent_response_id
        assert conversation.leaf_response_id == sibling.response_id
        messages.add(sibling.message)
    human = first.parent_response
    assert len(human.children) == 4
    assert human.children[0].response_id == first.response_id
    assert len(messages) > 1, "resamples with fresh seeds differ"


async def test_sampling_params_are_honoured(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Write about weather.", sampling=SamplingParams(temperature=0.0, max_tokens=7, seed=3)
    )
    tokens = [t async for t in stream]
    reply = await future
    assert len(tokens) <= 7
    assert reply.token_count == len(tokens)
    used = reply.sampling_params
    assert (used.temperature, used.max_tokens, used.seed) == (0.0, 7, 3)
    assert used.top_p is not None, "the default top_p actually used is recorded"


async def test_replace_human_branches_and_samples(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("First question about maps.")
    await collect(stream)
    reply = await future
    human = reply.parent_response
    stream, future = human.replace("Second question about rivers.")
    await collect(stream)
    new_reply = await future
    new_human = new_reply.parent_response
    assert new_human.message == "Second question about rivers."
    assert new_human.parent_response_id == human.parent_response_id
    assert {r.response_id for r in conversation.root_responses} == {
        human.response_id,
        new_human.response_id,
    }


async def test_replace_model_returns_stream_and_future(client: Client) -> None:
    """Seed defect 2: replace on a model response returned nothing."""
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("Hello there.")
    await collect(stream)
    reply = await future
    result = reply.replace("A hand-written answer.")
    assert isinstance(result, tuple) and len(result) == 2
    stream, future = result
    assert await collect(stream) == "A hand-written answer."
    manual = await future
    assert manual.manual and manual.sender == "model"
    assert manual.parent_response_id == reply.parent_response_id
    assert conversation.leaf_response_id == manual.response_id
    # It is stored on the server.
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert reloaded.get_response(manual.response_id).message == "A hand-written answer."


async def test_get_children_selects_children(client: Client) -> None:
    """Seed defect 1: get_children compared response_id with the parent id."""
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("Root message.")
    await collect(stream)
    reply = await future
    human = reply.parent_response
    children = list(conversation.get_children(human.response_id))
    assert [c.response_id for c in children] == [reply.response_id]
    assert human not in children


async def test_select_moves_the_leaf_and_next_message_branches(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("One.")
    await collect(stream)
    first = await future
    stream, future = conversation.add_response("Two.")
    await collect(stream)
    await future
    first.select()
    stream, future = conversation.add_response("Two, again.")
    await collect(stream)
    branch = await future
    assert branch.parent_response.parent_response_id == first.response_id
    assert len(first.children) == 2


async def test_model_root_by_resampling_a_root_reply(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    stream, future = conversation.add_response("")
    await collect(stream)
    root_model = await future
    assert root_model.parent_response_id is None and root_model.sender == "model"
    stream, future = await root_model.resample()
    await collect(stream)
    other = await future
    assert other.parent_response_id is None
    assert len(list(conversation.root_responses)) == 2


async def test_title_star_share_list_delete(client: Client, server: GroveServer) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("How do gardeners prune apple trees?")
    await collect(stream)
    reply = await future

    title = await conversation.generate_title()
    assert title and "Apple" in title
    assert conversation.title == title
    await conversation.set_title("Pruning")
    await conversation.star()
    listed = await client.grok.list_conversations()
    assert [(c.title, c.starred) for c in listed] == [("Pruning", True)]
    await conversation.unstar()
    loaded = await client.grok.get_conversation(conversation.conversation_id)
    assert loaded.title == "Pruning" and not loaded.starred

    url = await reply.share()
    assert url == f"{server.config.share_base_url}/{reply.response_id}"
    assert reply.shared and reply.parent_response.shared
    again = await client.grok.get_conversation(conversation.conversation_id)
    assert all(r.shared for r in again.responses)

    await conversation.delete()
    assert await client.grok.list_conversations() == []


async def test_share_url_follows_server_config(make_server) -> None:
    """Seed defect 6: the share URL was hard-coded."""
    running = make_server(share_base_url="https://example.test/s/")
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response("Share me.")
            await collect(stream)
            reply = await future
            assert await reply.share() == f"https://example.test/s/{reply.response_id}"
            # Sharing again still answers with the configured URL.
            assert await reply.share() == f"https://example.test/s/{reply.response_id}"
    finally:
        await running.stop()


async def test_load_takes_last_created_response_as_leaf(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("A")
    await collect(stream)
    first = await future
    first.parent_response.select()
    stream, future = conversation.add_response("")
    await collect(stream)
    second = await future
    loaded = await client.grok.get_conversation(conversation.conversation_id)
    assert loaded.leaf_response_id == second.response_id
    assert [r.response_id for r in loaded.responses] == [
        r.response_id for r in conversation.responses
    ]


async def test_persistence_across_restart(make_server) -> None:
    first = make_server()
    await first.start()
    async with Client(api_host=first.address) as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response("Remember me.")
        await collect(stream)
        reply = await future
        await conversation.set_title("Kept")
        conversation_id = conversation.conversation_id
    await first.stop()

    second = make_server()
    await second.start()
    try:
        async with Client(api_host=second.address) as sdk:
            loaded = await sdk.grok.get_conversation(conversation_id)
            assert loaded.title == "Kept"
            assert loaded.get_response(reply.response_id).message == reply.message
            assert loaded.leaf_response_id == reply.response_id
    finally:
        await second.stop()


async def test_stop_keeps_partial_reply(make_server) -> None:
    running = make_server(token_delay_ms=20.0)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "Tell me a long story.", sampling=SamplingParams(max_tokens=500)
            )
            received = []
            async for token in stream:
                received.append(token)
                if len(received) == 3:
                    assert await stream.stop()
            reply = await future
            assert reply.partial
            assert reply.message == "".join(received)
            assert 3 <= reply.token_count < 500
            loaded = await sdk.grok.get_conversation(conversation.conversation_id)
            assert loaded.get_response(reply.response_id).partial
    finally:
        await running.stop()


async def test_cancelled_stream_is_kept_as_partial(make_server) -> None:
    running = make_server(token_delay_ms=20.0)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "Another long story.", sampling=SamplingParams(max_tokens=500)
            )
            received = []
            async for token in stream:
                received.append(token)
                if len(received) == 3:
                    break
            await stream.aclose()
            assert future.cancelled()
            assert not conversation.is_sampling
            # The server stores the partial reply once it sees the cancellation; wait for it
            # by asking until the response appears (bounded), not by sleeping a fixed time.
            partial = await _wait_for_partial(sdk, conversation.conversation_id)
            assert partial.message.startswith("".join(received))
    finally:
        await running.stop()


async def _wait_for_partial(sdk: Client, conversation_id: str):
    async with asyncio.timeout(10):
        while True:
            loaded = await sdk.grok.get_conversation(conversation_id)
            models = [r for r in loaded.responses if r.sender == "model"]
            if models:
                assert models[0].partial
                return models[0]
            await asyncio.sleep(0.01)


async def test_shutdown_stores_in_flight_streams_as_partial(make_server) -> None:
    running = make_server(token_delay_ms=20.0)
    await running.start()
    async with Client(api_host=running.address) as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response(
            "A story cut short.", sampling=SamplingParams(max_tokens=500)
        )
        received = []
        stopping = None
        async for token in stream:
            received.append(token)
            if len(received) == 2 and stopping is None:
                stopping = asyncio.create_task(running.stop())
        reply = await future
        await stopping
        assert reply.partial
        assert reply.message == "".join(received)

    again = make_server()
    await again.start()
    try:
        async with Client(api_host=again.address) as sdk:
            loaded = await sdk.grok.get_conversation(conversation.conversation_id)
            assert loaded.get_response(reply.response_id).partial
    finally:
        await again.stop()


async def test_concurrent_streams_on_one_conversation(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("Parent for parallel samples.")
    await collect(stream)
    reply = await future
    human_id = reply.parent_response_id
    streams = [
        conversation.sample(parent_response_id=human_id, sampling=SamplingParams(seed=i))
        for i in range(6)
    ]

    async def drain(s):
        text = []
        async for event in s:
            if hasattr(event, "tokens"):
                text.append(event.text)
        return "".join(text), await s.future

    results = await asyncio.gather(*(drain(s) for s in streams))
    for text, response in results:
        assert response.message == text
        assert response.parent_response_id == human_id
    loaded = await client.grok.get_conversation(conversation.conversation_id)
    assert len(loaded.get_response(human_id).children) == 7
    # Parallel samples (select=False) leave the user's place on the reply add_response made.
    assert loaded.leaf_response_id == reply.response_id
    assert loaded.responses[-1].response_id in {r.response_id for _, r in results}
