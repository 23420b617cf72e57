"""Completion mode: a model reply that continues the path's text (base-model continuation)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
import pytest

from grove_explorer.client import Client, FailedPreconditionError, SamplingParams
from grove_explorer.client.grok import Conversation, Response
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import OFFLINE_MODEL_NAME
from tests.conftest import openai_backend
from tests.fake_openai import FakeOpenAI, token_logprob


@contextlib.asynccontextmanager
async def running(server: GroveServer) -> AsyncIterator[GroveServer]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def sample(conversation: Conversation, **kwargs: object) -> Response:
    stream = conversation.sample(**kwargs)  # type: ignore[arg-type]
    async for _ in stream:
        pass
    return await stream.future


async def test_offline_model_continues_a_model_reply_under_it(client: Client) -> None:
    catalog = await client.grok.list_models()
    offline = next(m for m in catalog.models if m.name == OFFLINE_MODEL_NAME)
    assert offline.modes == ("chat", "completion")
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "The old garden", sampling=SamplingParams(max_tokens=8, seed=1)
    )
    async for _ in stream:
        pass
    first = await future
    continued = await sample(
        conversation,
        parent_response_id=first.response_id,
        mode="completion",
        sampling=SamplingParams(max_tokens=10, seed=2),
    )
    assert continued.sender == "model" and continued.parent_response_id == first.response_id
    assert continued.message.strip() and continued.token_count <= 10
    # Deterministic: the same seed continues the same document the same way.
    again = await sample(
        conversation,
        parent_response_id=first.response_id,
        mode="completion",
        sampling=SamplingParams(max_tokens=10, seed=2),
    )
    assert again.message == continued.message


async def test_an_unknown_mode_is_refused_before_any_request(client: Client) -> None:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    with pytest.raises(ValueError, match="Unknown sampling mode 'base'"):
        conversation.sample("hi", parent_response_id=None, mode="base")
    with pytest.raises(ValueError, match="Unknown sampling mode"):
        conversation.configure(mode="prose")


async def test_a_text_completion_backend_gets_the_document_and_streams_logprobs(
    make_server, fake_openai: FakeOpenAI
) -> None:
    base = openai_backend(fake_openai, name="base", mode="completion")
    models = ModelsConfig(backends=(base,), default_model="base")
    server = make_server(models=models)
    async with running(server), Client(api_host=server.address) as client:
        catalog = await client.grok.list_models()
        assert next(m for m in catalog.models if m.name == "base").modes == ("completion",)
        conversation = client.grok.create_conversation()
        conversation.configure(mode="completion")
        stream, future = conversation.add_response(
            "Once upon a time", sampling=SamplingParams(max_tokens=4), top_logprobs=2
        )
        async for _ in stream:
            pass
        reply = await future
        body = fake_openai.completion_requests[-1]
        assert body["prompt"] == "Once upon a time" and body["logprobs"] == 2
        assert "messages" not in body and fake_openai.requests == [], "no chat request"
        tokens = await reply.tokens()
        assert reply.message == "".join(t.text for t in tokens)
        assert tokens[0].logprob == pytest.approx(token_logprob(0), rel=1e-6)
        assert tokens[0].top[0][0] == tokens[0].text
        # The next continuation's document is the whole path's text, joined as it is.
        more = await sample(conversation, parent_response_id=reply.response_id)
        assert fake_openai.completion_requests[-1]["prompt"] == "Once upon a time" + reply.message
        assert more.parent_response_id == reply.response_id
        # A base model does not chat.
        with pytest.raises(FailedPreconditionError, match="base model") as info:
            await sample(conversation, user_message="Hello?", parent_response_id=None, mode="chat")
        assert info.value.code is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_chat_backend_without_a_text_endpoint_refuses_completion(
    make_server, fake_openai: FakeOpenAI
) -> None:
    models = ModelsConfig(backends=(openai_backend(fake_openai),), default_model="fake")
    server = make_server(models=models)
    async with running(server), Client(api_host=server.address) as client:
        conversation = client.grok.create_conversation()
        await conversation.ensure_created()
        with pytest.raises(FailedPreconditionError, match="completion_endpoint"):
            await sample(
                conversation, user_message="Go on", parent_response_id=None, mode="completion"
            )
        await conversation.load()
        assert conversation.responses == [], "nothing was stored"


async def test_a_chat_backend_with_a_text_endpoint_offers_both(
    make_server, fake_openai: FakeOpenAI
) -> None:
    both = openai_backend(fake_openai, completion_endpoint=True)
    server = make_server(models=ModelsConfig(backends=(both,), default_model="fake"))
    async with running(server), Client(api_host=server.address) as client:
        catalog = await client.grok.list_models()
        assert next(m for m in catalog.models if m.name == "fake").modes == ("chat", "completion")
        conversation = client.grok.create_conversation()
        await conversation.ensure_created()
        chat = await sample(conversation, user_message="Tell me", parent_response_id=None)
        assert fake_openai.requests and not fake_openai.completion_requests
        await sample(conversation, parent_response_id=chat.response_id, mode="completion")
        assert fake_openai.completion_requests[-1]["prompt"] == "Tell me" + chat.message
