"""An OpenAI-compatible backend end to end: fake HTTP endpoint → Grove server → SDK → service.

The endpoint is a real aiohttp server on loopback (tests/fake_openai.py) that streams SSE
with logprobs and injects each upstream failure; nothing here needs the internet.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest

from grove_explorer.client import (
    BackendError,
    Client,
    InvalidArgumentError,
    SamplingParams,
)
from grove_explorer.client.service import ConversationService, StreamFailed
from grove_explorer.client.streams import BudgetEvent, ModelResponseEvent, TokensEvent
from grove_explorer.server.backends import DEFAULT_SYSTEM_PROMPTS, ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.offline import OFFLINE_MODEL_NAME
from tests.conftest import openai_backend
from tests.fake_openai import DEFAULT_REPLY, FakeOpenAI, token_logprob
from tests.helpers import collect


@pytest.fixture
async def sdk(openai_server: GroveServer) -> Client:
    async with Client(api_host=openai_server.address) as client:
        yield client


async def test_list_models_names_backends_defaults_and_prompts(sdk: Client) -> None:
    catalog = await sdk.grok.list_models()
    assert [m.name for m in catalog.models] == ["fake", OFFLINE_MODEL_NAME]
    assert catalog.default_model == "fake"
    fake, offline = catalog.models
    assert (fake.backend, fake.upstream_model, fake.is_default) == ("openai", "fake-model", True)
    assert fake.default_temperature is not None and fake.default_max_tokens is not None
    assert fake.supports_logprobs is None, "unknown until the endpoint answers"
    assert (offline.backend, offline.supports_logprobs, offline.is_default) == (
        "offline",
        True,
        False,
    )
    prompts = {p.name: p.text for p in catalog.system_prompts}
    assert prompts == dict(DEFAULT_SYSTEM_PROMPTS)


async def test_reply_streams_from_the_endpoint_with_logprobs_and_usage(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    conversation = sdk.grok.create_conversation()
    await conversation.ensure_created()
    stream = conversation.sample(
        "Why do trees grow?",
        parent_response_id=None,
        sampling=SamplingParams(temperature=0.25, top_p=0.5, max_tokens=50, seed=7),
        top_logprobs=3,
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
    assert reply is not None and reply.message == "".join(DEFAULT_REPLY)
    assert reply.model_name == "fake" and not reply.partial
    assert [t.text for t in tokens] == DEFAULT_REPLY
    assert [t.logprob for t in tokens] == pytest.approx(
        [token_logprob(i) for i in range(len(DEFAULT_REPLY))]
    )
    assert len(tokens[0].top) == 3 and tokens[0].top[1][0] == "alt1"
    sent = fake_openai.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPTS[""]},
        {"role": "user", "content": "Why do trees grow?"},
    ]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (
        0.25,
        0.5,
        50,
        7,
    )
    assert sent["logprobs"] is True and sent["top_logprobs"] == 3 and sent["stream"] is True
    assert budgets[-1].sampled_tokens == len(DEFAULT_REPLY), "usage reported as the budget"
    assert budgets[-1].max_tokens == 50
    assert reply.token_count == len(DEFAULT_REPLY)
    assert reply.sampling_params.seed == 7


async def test_the_path_becomes_chat_messages_and_prompts_follow_the_request(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    conversation = sdk.grok.create_conversation(fun_mode=True)
    stream, future = conversation.add_response("First question")
    await collect(stream)
    first = await future
    stream, future = conversation.add_response("And then?")
    await collect(stream)
    await future
    sent = fake_openai.requests[-1]["messages"]
    assert sent == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPTS["fun"]},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": first.message},
        {"role": "user", "content": "And then?"},
    ]
    conversation.configure(use_system_prompt=False)  # the seed's dev_only_use_grok=False
    stream, future = conversation.add_response("Raw now")
    await collect(stream)
    await future
    assert all(m["role"] != "system" for m in fake_openai.requests[-1]["messages"])
    conversation.configure(use_system_prompt=True, system_prompt_name="no-such-prompt")
    stream, future = conversation.add_response("Unknown prompt")
    with pytest.raises(InvalidArgumentError, match="Unknown system prompt 'no-such-prompt'"):
        await collect(stream)


async def test_configured_system_prompts_replace_the_defaults(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> None:
    models = ModelsConfig(
        backends=(openai_backend(fake_openai),),
        system_prompts={"": "Be brief.", "pirate": "Talk like a pirate."},
    )
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        async with Client(api_host=running.address) as client:
            conversation = client.grok.create_conversation()
            conversation.configure(system_prompt_name="pirate")
            stream, future = conversation.add_response("Ahoy")
            await collect(stream)
            await future
            assert fake_openai.requests[-1]["messages"][0] == {
                "role": "system",
                "content": "Talk like a pirate.",
            }
            catalog = await client.grok.list_models()
            assert {p.name for p in catalog.system_prompts} == {"", "pirate"}
    finally:
        await running.stop()


async def test_a_request_can_pick_another_model_by_name(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    conversation = sdk.grok.create_conversation(model_name=OFFLINE_MODEL_NAME)
    stream, future = conversation.add_response("Tell me about gardens")
    await collect(stream)
    reply = await future
    assert reply.model_name == OFFLINE_MODEL_NAME
    assert fake_openai.requests == [], "the offline model never calls the endpoint"
    conversation.configure(model_name="ghost")
    stream, future = conversation.add_response("Again")
    with pytest.raises(InvalidArgumentError, match="Unknown model 'ghost'"):
        await collect(stream)


@pytest.mark.parametrize(
    "setup, code, kind, words",
    [
        (
            {"require_key": "sk-right"},
            grpc.StatusCode.FAILED_PRECONDITION,
            "auth",
            "GROVE_TEST_KEY",
        ),
        (
            {"known_models": {"other"}},
            grpc.StatusCode.FAILED_PRECONDITION,
            "model_not_found",
            "fake-model",
        ),
        (
            {"fail_status": 429, "retry_after": "7"},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "rate_limited",
            "7",
        ),
        ({"fail_status": 503}, grpc.StatusCode.UNAVAILABLE, "unavailable", "503"),
        ({"fail_status": 500}, grpc.StatusCode.UNAVAILABLE, "unavailable", "500"),
        ({"stall_after": 0}, grpc.StatusCode.DEADLINE_EXCEEDED, "timeout", "fake"),
    ],
)
async def test_upstream_failures_become_clear_statuses(
    server_config: ServerConfig,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    setup: dict[str, object],
    code: grpc.StatusCode,
    kind: str,
    words: str,
) -> None:
    monkeypatch.setenv("GROVE_TEST_KEY", "sk-wrong-secret")
    for name, value in setup.items():
        setattr(fake_openai, name, value)
    backend = openai_backend(fake_openai, api_key_env="GROVE_TEST_KEY", timeout_seconds=0.5)
    running = GroveServer(replace(server_config, models=ModelsConfig(backends=(backend,))))
    await running.start()
    try:
        async with Client(api_host=running.address) as client:
            conversation = client.grok.create_conversation()
            stream, future = conversation.add_response("Hello there")
            with pytest.raises(BackendError) as caught:
                await collect(stream)
            error = caught.value
            assert (error.code, error.kind) == (code, kind)
            assert "'fake'" in error.message and words in error.message
            assert "sk-wrong-secret" not in error.message, "the key itself is never shown"
            if kind == "rate_limited":
                assert error.retry_after_seconds == 7
            with pytest.raises(BackendError):
                await future
            await conversation.load()
            senders = [r.sender for r in conversation.responses]
            assert senders == ["human"], "the human message is kept; no empty reply is stored"
    finally:
        await running.stop()


async def test_connection_refused_names_the_url(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> None:
    backend = openai_backend(fake_openai)
    await fake_openai.stop()
    running = GroveServer(replace(server_config, models=ModelsConfig(backends=(backend,))))
    await running.start()
    try:
        async with Client(api_host=running.address) as client:
            stream, _ = client.grok.create_conversation().add_response("Anyone there?")
            with pytest.raises(BackendError) as caught:
                await collect(stream)
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
            assert caught.value.kind == "unavailable"
            assert "Cannot reach backend 'fake'" in caught.value.message
            assert "127.0.0.1" in caught.value.message
    finally:
        await running.stop()


async def test_a_stream_that_breaks_keeps_its_partial_text(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.break_after = 3
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Tell me a story")
    seen: list[str] = []
    with pytest.raises(BackendError) as caught:
        async for text in stream:
            seen.append(text)
    assert caught.value.kind == "stream_broken" and caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "partial reply was kept" in caught.value.message
    partial = await future
    assert partial.partial and partial.message == "".join(DEFAULT_REPLY[:3]) == "".join(seen)
    assert conversation.leaf_response_id == partial.response_id
    reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
    stored = reloaded.get_response(partial.response_id)
    assert stored.partial and stored.message == partial.message and stored.model_name == "fake"


async def test_cancelling_closes_the_upstream_stream(sdk: Client, fake_openai: FakeOpenAI) -> None:
    fake_openai.token_delay = 0.05
    fake_openai.reply_tokens = [f" w{i}" for i in range(200)]
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Go on forever")
    async for text in stream:
        if text:
            break
    await stream.aclose()
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=5)
    assert future.cancelled()


async def test_stop_closes_the_upstream_stream_and_keeps_the_partial(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.token_delay = 0.05
    fake_openai.reply_tokens = [f" w{i}" for i in range(200)]
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Go on forever")
    stopped = False
    async for text in stream:
        if text and not stopped:
            stopped = await stream.stop()  # then read on until the server ends the stream
    assert stopped
    reply = await future
    assert reply.partial and reply.message.startswith(" w0")
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=5)


async def test_stop_after_the_model_finished_keeps_a_complete_reply_and_says_so(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    """`partial` means shorter than the model would have written: a stop that arrives once
    every token is in (the end still on its way) cuts nothing, and stop() says False."""
    fake_openai.finish_gate = asyncio.Event()
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Say your piece")
    first = await anext(stream)
    await asyncio.wait_for(fake_openai.at_finish_gate.wait(), timeout=5)
    stopping = asyncio.ensure_future(stream.stop())
    fake_openai.finish_gate.set()
    rest = [text async for text in stream]
    assert await stopping is False
    reply = await future
    assert not reply.partial
    assert reply.message == first + "".join(rest) == "".join(DEFAULT_REPLY)
    assert reply.finish_reason == "stop"


async def test_stop_mid_reply_answers_true_and_the_reply_is_partial(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.token_delay = 0.02
    fake_openai.reply_tokens = [f" w{i}" for i in range(300)]
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("Go on")
    received = [await anext(stream)]
    assert await stream.stop() is True
    received += [text async for text in stream]
    reply = await future
    assert reply.partial and reply.finish_reason == "stopped"
    assert reply.message == "".join(received)
    assert len(reply.message.split()) < 300


async def test_title_comes_from_the_model_and_falls_back(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response("How do apple trees survive the winter frost?")
    await collect(stream)
    await future
    await conversation.generate_title()
    assert conversation.title == "Gardens in Winter"
    title_request = fake_openai.requests[-1]
    assert not title_request.get("stream") and title_request["model"] == "fake-model"
    fake_openai.fail_status = 500
    await conversation.generate_title()
    assert conversation.title and conversation.title != "Gardens in Winter"
    assert "Apple" in conversation.title, "the offline heuristic titles from the words"


async def test_service_keeps_the_partial_and_reports_the_failure(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with Client(api_host=openai_server.address) as client:
        service = ConversationService(client)
        events: list[object] = []
        service.subscribe(events.append)
        forest = await service.new_conversation()
        cid = forest.conversation.conversation_id
        fake_openai.break_after = 2
        assert await service.send(cid, "Hello", None) is None
        failed = [e for e in events if isinstance(e, StreamFailed)]
        assert len(failed) == 1 and isinstance(failed[0].error, BackendError)
        partial = failed[0].partial
        assert partial is not None and partial.partial
        assert forest.responses[partial.response_id].message == "".join(DEFAULT_REPLY[:2])
        assert forest.leaf_id == partial.response_id
        assert not service.is_streaming(cid)

        fake_openai.break_after = None
        results = await service.resample_many(
            cid, partial.response_id, 2, model_name=OFFLINE_MODEL_NAME
        )
        assert [r.model_name for r in results if r] == [OFFLINE_MODEL_NAME] * 2


async def test_reopening_continues_with_the_paths_model(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with Client(api_host=openai_server.address) as client:
        service = ConversationService(client)
        forest = await service.new_conversation(model_name=OFFLINE_MODEL_NAME)
        cid = forest.conversation.conversation_id
        await service.send(cid, "Tell me about roses", None)
        fresh = ConversationService(client)
        await fresh.open(cid)
        assert fresh.settings(cid).model_name == OFFLINE_MODEL_NAME
