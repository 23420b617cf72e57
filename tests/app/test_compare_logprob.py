"""Compare knows the mean logprob of every sampled reply with tokens, however it was made.

A reply streamed in this session carries the mean it streamed with; one loaded from the
server (after F5, or sampled by another client) gets it from its stored tokens. Sorting
by logprob then places every sample by its mean.
"""

from __future__ import annotations

from grove_explorer.app.screens.compare import CompareScreen
from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle


async def test_every_sample_has_a_mean_logprob_and_sorts_by_it(server: GroveServer) -> None:
    async with explorer(server.address, size=(150, 40)) as (app, pilot, screen):
        await send(pilot, "Tell me about rivers")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        cid = forest.conversation.conversation_id
        human, composed = (n.response_id for n in forest.current_path)

        # Another client samples two siblings of the composer's reply.
        async with Client(api_host=server.address) as sdk:
            conversation = await sdk.grok.get_conversation(cid)
            expected: dict[str, float] = {}
            for seed in (3, 4):
                stream = conversation.sample(
                    "", parent_response_id=human, sampling=SamplingParams(seed=seed)
                )
                async for _event in stream:
                    pass
                reply = await stream.future
                tokens = await reply.tokens()
                logprobs = [t.logprob for t in tokens if t.logprob is not None]
                expected[reply.response_id] = sum(logprobs) / len(logprobs)
            composed_tokens = await conversation.get_response(composed).tokens()
            logprobs = [t.logprob for t in composed_tokens if t.logprob is not None]
            expected[composed] = sum(logprobs) / len(logprobs)

        screen.action_reload()  # F5: every reply comes from the server, none streamed here
        await settle(pilot)
        screen.thread.focus()
        screen.thread.focus_message(composed)
        await pilot.press("c")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        means = {c.response_id: c.node.mean_logprob for c in compare.columns}
        assert set(means) == set(expected)
        for rid, mean in means.items():
            assert mean is not None and abs(mean - expected[rid]) < 1e-9, rid
        assert all("logprob " in c.header.plain for c in compare.columns)

        while compare.sort != "logprob":
            await pilot.press("s")
        await settle(pilot)
        assert compare.ordered_ids() == sorted(expected, key=lambda rid: -expected[rid])
        # Kept on the nodes: the next Compare knows them at once.
        reloaded = screen.service.forest(cid)
        assert all(reloaded.responses[rid].mean_logprob is not None for rid in expected)
