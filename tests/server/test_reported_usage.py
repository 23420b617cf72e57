"""A reply's token count is what was received, whatever the endpoint's usage reports.

Endpoints such as LiteLLM report an estimated `usage`; the fake endpoint (a real HTTP
server on loopback) is told to report 18 completion tokens while it streams 20.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.export import collect_tokens, export_json, import_request
from grove_explorer.client.streams import BudgetEvent, ModelResponseEvent, TokensEvent
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.runtime import GroveServer
from tests.conftest import openai_backend
from tests.fake_openai import FakeOpenAI
from tests.helpers import collect

SENT = [f"w{i} " for i in range(20)]


async def test_token_count_is_the_tokens_received_not_the_reported_usage(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply_tokens = list(SENT)
    fake_openai.usage_completion_tokens = 18
    async with Client(api_host=openai_server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        await conversation.ensure_created()
        stream = conversation.sample(
            "Count them.",
            parent_response_id=None,
            sampling=SamplingParams(max_tokens=50),
            select=True,
        )
        tokens, budgets, reply = [], [], None
        async for event in stream:
            if isinstance(event, TokensEvent):
                tokens.extend(event.tokens)
            elif isinstance(event, BudgetEvent):
                budgets.append(event)
            elif isinstance(event, ModelResponseEvent):
                reply = event.response
        assert reply is not None and len(tokens) == 20
        assert reply.token_count == len(tokens) == 20
        assert budgets[-1].sampled_tokens == 18, "the budget line may show the endpoint's usage"
        stored = await reply.tokens()
        assert [t.text for t in stored] == SENT, "the token view shows what was counted"


async def test_reported_usage_is_kept_across_a_restart_and_an_export(
    make_server: Callable[..., GroveServer], fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply_tokens = list(SENT)
    fake_openai.usage_completion_tokens = 18
    models = ModelsConfig(backends=(openai_backend(fake_openai),), default_model="fake")
    running = make_server(models=models)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "Count them.", sampling=SamplingParams(max_tokens=50)
            )
            await collect(stream)
            reply = await future
            assert reply.token_count == 20
            assert reply.reported_usage is not None
            assert reply.reported_usage.completion_tokens == 18
            assert reply.reported_usage.prompt_tokens > 0
            human_id = reply.node.parent_id
    finally:
        await running.stop()

    again = make_server(models=models)
    await again.start()
    try:
        async with Client(api_host=again.address) as sdk:
            loaded = await sdk.grok.get_conversation(conversation.conversation_id)
            stored = loaded.responses[-1]
            assert stored.token_count == 20 and len(await stored.tokens()) == 20
            assert stored.reported_usage == reply.reported_usage
            human = next(r for r in loaded.responses if r.response_id == human_id)
            assert human.reported_usage is None

            document = export_json(loaded, await collect_tokens(loaded))
            model_entry, human_entry = document["responses"][-1], document["responses"][0]
            assert model_entry["reported_usage"] == {
                "prompt_tokens": reply.reported_usage.prompt_tokens,
                "completion_tokens": 18,
            }
            assert "reported_usage" not in human_entry, "absent when none was reported"
            text = json.dumps(document)
            restored = await sdk.grok.import_conversation(import_request(json.loads(text)))
            copied = restored.responses[-1]
            assert (copied.token_count, copied.reported_usage) == (20, reply.reported_usage)
            assert (
                export_json(restored, await collect_tokens(restored))["responses"][-1][
                    "reported_usage"
                ]
                == model_entry["reported_usage"]
            )
    finally:
        await again.stop()
