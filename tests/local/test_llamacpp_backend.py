"""The in-process llama.cpp backend with a real model, through a real server and the SDK."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.streams import BudgetEvent, TokensEvent
from grove_explorer.protos import chat_pb2_grpc
from grove_explorer.server.backends import (
    BackendConfigError,
    ModelsConfig,
    parse_models_config,
)
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect
from tests.local.conftest import LOCAL, local_backend

QUESTION = "How do oak trees survive the winter?"


@pytest.fixture
async def sdk(local_server: GroveServer):
    async with Client(api_host=local_server.address) as client:
        yield client


async def test_reply_carries_real_logprobs_alternatives_and_the_models_token_count(
    sdk: Client,
) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(
        QUESTION, sampling=SamplingParams(max_tokens=16, seed=3), top_logprobs=4
    )
    text = await collect(stream)
    reply = await future
    assert reply.model_name == LOCAL and reply.message == text and text.strip()
    assert "<|im_" not in text, "the template's markers never leak into a reply"
    tokens = await reply.tokens()
    assert "".join(t.text for t in tokens) == text
    assert reply.token_count == len(tokens) <= 16
    assert reply.finish_reason in ("stop", "length")
    for token in tokens:
        assert token.logprob is not None and token.logprob <= 0.0
        assert 1 <= len(token.top) <= 4
        logprobs = [lp for _, lp in token.top]
        assert logprobs == sorted(logprobs, reverse=True)
        # the drawn token is among the alternatives whenever it is likely enough to be
        if token.logprob > logprobs[-1]:
            assert any(math.isclose(lp, token.logprob) for lp in logprobs)
    assert sum(math.exp(lp) for _, lp in tokens[0].top) <= 1.0 + 1e-9


async def test_a_seed_reproduces_a_reply_and_another_seed_does_not(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(
        QUESTION, sampling=SamplingParams(max_tokens=20, seed=11, temperature=1.0)
    )
    await collect(stream)
    first = await future
    replies = []
    for seed in (11, 12):
        again, done = await first.resample(
            sampling=SamplingParams(max_tokens=20, seed=seed, temperature=1.0)
        )
        await collect(again)
        replies.append(await done)
    same, other = replies
    assert same.message == first.message
    assert [t.logprob for t in await same.tokens()] == [t.logprob for t in await first.tokens()]
    assert other.message != first.message


async def test_branch_from_token_continues_the_prefix_exactly(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(QUESTION, sampling=SamplingParams(max_tokens=8))
    await collect(stream)
    human = (await future).parent_response
    assert human is not None
    branch = conversation.sample(
        parent_response_id=human.response_id,
        prefix="Oak trees survive winter by",
        sampling=SamplingParams(max_tokens=12, seed=1, temperature=0.0),
    )
    async for _ in branch:
        pass
    reply = await branch.future
    assert reply.prefix_length == len("Oak trees survive winter by")
    assert reply.message.startswith("Oak trees survive winter by")
    continuation = reply.message[reply.prefix_length :]
    assert continuation.strip() and "<|im_" not in continuation and "assistant" not in continuation
    tokens = await reply.tokens()
    assert tokens[0].text == "Oak trees survive winter by" and tokens[0].logprob is None


async def test_max_tokens_cuts_the_reply_with_finish_length(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(
        "Write a long essay about the history of maps.",
        sampling=SamplingParams(max_tokens=5, seed=2, temperature=0.0),
    )
    await collect(stream)
    reply = await future
    assert reply.finish_reason == "length" and reply.token_count == 5 and not reply.partial


async def test_budget_counts_the_prompt_with_the_models_own_tokenizer(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    await conversation.ensure_created()
    budgets: list[BudgetEvent] = []
    stream = conversation.sample(
        QUESTION, parent_response_id=None, sampling=SamplingParams(max_tokens=6, seed=4)
    )
    async for event in stream:
        if isinstance(event, BudgetEvent):
            budgets.append(event)
    reply = await stream.future
    final = budgets[-1]
    assert final.sampled_tokens == reply.token_count
    # The template's system prompt and markers are counted, not a chars/4 estimate.
    assert final.prompt_tokens > len(QUESTION.split())
    assert final.prompt_tokens != math.ceil(len(QUESTION) / 4)


async def test_stop_keeps_the_partial_reply(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    await conversation.ensure_created()
    stream = conversation.sample(
        "Tell me a very long story about a lighthouse keeper.",
        parent_response_id=None,
        sampling=SamplingParams(max_tokens=200, seed=9, temperature=1.0),
    )
    stopped = None
    async for event in stream:
        if isinstance(event, TokensEvent) and stopped is None:
            stopped = await stream.stop()
    reply = await stream.future
    assert stopped is True
    assert reply.partial and reply.finish_reason == "stopped"
    assert 0 < reply.token_count < 200


async def test_the_server_answers_other_calls_while_the_model_generates(
    sdk: Client, local_server: GroveServer
) -> None:
    """Generation runs on the model's thread: the event loop keeps serving."""
    conversation = sdk.grok.create_conversation()
    await conversation.ensure_created()
    stream = conversation.sample(
        "Describe every season in a temperate forest.",
        parent_response_id=None,
        sampling=SamplingParams(max_tokens=120, seed=5, temperature=1.0),
    )
    first = await anext(aiter(stream))
    answered_during = 0
    async with grpc.aio.insecure_channel(local_server.address) as channel:
        chat = chat_pb2_grpc.ChatStub(channel)
        for _ in range(3):
            await chat.ListModels(empty_pb2.Empty())
            if not stream.future.done():
                answered_during += 1
    await stream.stop()
    async for _ in stream:
        pass
    await stream.future
    assert first is not None
    assert answered_during == 3


async def test_a_reply_to_a_reply_renders_through_the_template(sdk: Client) -> None:
    """Model → model (a reply under a reply): consecutive assistant turns are accepted."""
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(QUESTION, sampling=SamplingParams(max_tokens=6))
    await collect(stream)
    reply = await future
    again = conversation.sample(
        parent_response_id=reply.response_id, sampling=SamplingParams(max_tokens=6, seed=8)
    )
    async for _ in again:
        pass
    second = await again.future
    assert second.parent_response_id == reply.response_id and second.message.strip()


async def test_requests_beyond_the_queue_bound_are_refused_with_a_sentence(
    server_config: ServerConfig, model_path: Path
) -> None:
    models = ModelsConfig(
        backends=(local_backend(model_path, max_waiting=0, max_tokens=400),), default_model=LOCAL
    )
    server = GroveServer(replace(server_config, models=models))
    await server.start()
    try:
        async with Client(api_host=server.address) as sdk:
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
            busy = conversation.sample(
                "Count slowly to a thousand.",
                parent_response_id=None,
                sampling=SamplingParams(max_tokens=400, seed=1, temperature=1.0),
            )
            await anext(aiter(busy))  # the model is generating this one
            refused = conversation.sample(
                "And another?", parent_response_id=None, sampling=SamplingParams(max_tokens=4)
            )
            with pytest.raises(Exception) as caught:
                async for _ in refused:
                    pass
                await refused.future
            message = str(caught.value)
            assert "one reply at a time" in message and "max_waiting 0" in message
            await busy.stop()
            async for _ in busy:
                pass
            assert (await busy.future).partial
    finally:
        await server.stop()


async def test_title_comes_from_the_local_model(sdk: Client) -> None:
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(QUESTION, sampling=SamplingParams(max_tokens=8))
    await collect(stream)
    await future
    await conversation.generate_title()
    assert conversation.title and len(conversation.title) <= 80
    assert "<|im_" not in conversation.title


async def test_list_models_describes_the_local_model(sdk: Client) -> None:
    catalog = await sdk.grok.list_models()
    local = next(m for m in catalog.models if m.name == LOCAL)
    assert local.backend == "llamacpp"
    assert local.upstream_model == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert local.supports_logprobs is True


# Configuration: a bad model file fails at start with a sentence, not at the first reply.


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    table = {"models": {"m": {"sampler": "llamacpp", "model_path": str(tmp_path / "no.gguf")}}}
    with pytest.raises(BackendConfigError, match=r"model file .*no\.gguf does not exist"):
        parse_models_config(table, "config.toml")


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "weights.bin"
    fake.write_bytes(b"PK\x03\x04 not a model")
    table = {"models": {"m": {"sampler": "llamacpp", "model_path": str(fake)}}}
    with pytest.raises(BackendConfigError, match="is not a GGUF model file"):
        parse_models_config(table, "config.toml")


def test_model_path_is_required(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError, match="model_path"):
        parse_models_config({"models": {"m": {"sampler": "llamacpp"}}}, "config.toml")


def test_command_line_flags_add_the_local_model(model_path: Path) -> None:
    import argparse

    from grove_explorer.server.cli import add_model_arguments, apply_model_flags

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(["--sampler", "llamacpp", "--model-path", str(model_path)])
    models = apply_model_flags(ModelsConfig(), args)
    assert models.default_model == "SmolLM2-135M-Instruct.Q4_1"
    assert models.backends[0].sampler == "llamacpp"
    with pytest.raises(SystemExit, match="--model-path"):
        apply_model_flags(ModelsConfig(), parser.parse_args(["--sampler", "llamacpp"]))


async def test_completion_mode_continues_plain_text_like_a_base_model(sdk: Client) -> None:
    catalog = await sdk.grok.list_models()
    assert next(m for m in catalog.models if m.name == LOCAL).modes == ("chat", "completion")
    conversation = sdk.grok.create_conversation()
    conversation.configure(mode="completion")
    stream, future = conversation.add_response(
        "The lighthouse keeper climbed the stairs and",
        sampling=SamplingParams(max_tokens=10, seed=3, temperature=0.0),
    )
    await collect(stream)
    first = await future
    assert first.message.strip() and "<|im_" not in first.message
    assert "assistant" not in first.message.lower()
    # Continue the continuation (model → model): the document is the whole path's text.
    more = conversation.sample(
        parent_response_id=first.response_id,
        sampling=SamplingParams(max_tokens=8, seed=3, temperature=0.0),
    )
    async for _ in more:
        pass
    done = await more.future
    assert done.parent_response_id == first.response_id and done.message
    # Greedy continuation is deterministic for the same document.
    twin = conversation.sample(
        parent_response_id=first.response_id,
        sampling=SamplingParams(max_tokens=8, seed=9, temperature=0.0),
    )
    async for _ in twin:
        pass
    assert (await twin.future).message == done.message


async def test_the_local_model_judges_or_says_its_answer_is_unusable(sdk: Client) -> None:
    """A 135M model may well answer outside the judge's JSON: then a clear error and
    nothing stored; when it answers in it, a score 0-10 stored with its provenance."""
    from grove_explorer.client.errors import UnusableJudgementError

    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(
        QUESTION, sampling=SamplingParams(max_tokens=12, seed=5)
    )
    await collect(stream)
    reply = await future
    try:
        judgements = await conversation.judge(
            [reply.response_id], model_name=LOCAL, sampling=SamplingParams(max_tokens=48, seed=1)
        )
    except UnusableJudgementError as error:
        assert "gave no usable score" in str(error) and "Nothing was stored" in str(error)
        reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
        assert reloaded.get_response(reply.response_id).judgements == ()
    else:
        (judgement,) = judgements
        assert 0 <= judgement.score <= 10 and judgement.judge_model == LOCAL
        assert not judgement.heuristic
        reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
        assert reloaded.get_response(reply.response_id).judgements == (judgement,)
