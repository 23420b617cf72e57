"""EmbedTexts end to end: fake OpenAI endpoint → Grove server → SDK (`AsyncGrok.embed`).

The endpoint is tests/fake_openai.py's real HTTP server; its vectors are deterministic
(`embedding_of`), so the test can check each text got its own vector, in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import pytest

from grove_explorer.client import (
    BackendError,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
)
from grove_explorer.server.backends import BackendConfigError, ModelsConfig, parse_models_config
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.offline import OFFLINE_MODEL_NAME
from grove_explorer.server.servicer.embedding import MAX_EMBED_TEXTS
from tests.conftest import openai_backend
from tests.fake_openai import DEFAULT_EMBEDDINGS_MODEL, FakeOpenAI, embedding_of


@pytest.fixture
async def sdk(server_config: ServerConfig, fake_openai: FakeOpenAI) -> AsyncIterator[Client]:
    """A server with the fake endpoint twice: with embeddings ("fake") and without ("plain")."""
    models = ModelsConfig(
        backends=(
            openai_backend(fake_openai, embeddings_model=DEFAULT_EMBEDDINGS_MODEL),
            openai_backend(fake_openai, name="plain"),
        ),
        default_model="fake",
    )
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        async with Client(api_host=running.address) as client:
            yield client
    finally:
        await running.stop()


async def test_list_models_says_which_models_embed(sdk: Client) -> None:
    catalog = await sdk.grok.list_models()
    by_name = {m.name: m for m in catalog.models}
    assert by_name["fake"].supports_embeddings
    assert by_name["fake"].embeddings_model == DEFAULT_EMBEDDINGS_MODEL
    assert not by_name["plain"].supports_embeddings
    assert not by_name[OFFLINE_MODEL_NAME].supports_embeddings
    assert by_name[OFFLINE_MODEL_NAME].embeddings_model == ""


async def test_embed_returns_one_vector_per_text_in_order(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    texts = ["the cat sat", "a dog barked", "the cat sat"]
    result = await sdk.grok.embed(texts)
    assert result.embeddings_model == DEFAULT_EMBEDDINGS_MODEL
    assert len(result.vectors) == 3
    for vector, text in zip(result.vectors, texts, strict=True):
        assert vector == pytest.approx(embedding_of(text), abs=1e-6)
    assert fake_openai.embedding_requests[-1]["input"] == texts
    assert fake_openai.embedding_requests[-1]["model"] == DEFAULT_EMBEDDINGS_MODEL


@pytest.mark.parametrize("model", ["plain", OFFLINE_MODEL_NAME])
async def test_a_model_without_embeddings_is_a_failed_precondition(sdk: Client, model: str) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        await sdk.grok.embed(["text"], model_name=model)
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "offers no embeddings" in caught.value.message
    assert "embeddings_model" in caught.value.message


async def test_limits_are_refused_whole_with_the_count(sdk: Client) -> None:
    with pytest.raises(InvalidArgumentError, match="at least one text"):
        await sdk.grok.embed([])
    with pytest.raises(InvalidArgumentError, match="Text 2 of 2 is empty"):
        await sdk.grok.embed(["fine", "  "])
    with pytest.raises(InvalidArgumentError, match="Unknown model 'nope'"):
        await sdk.grok.embed(["x"], model_name="nope")
    # The SDK sends a big batch in chunks the server takes.
    result = await sdk.grok.embed([f"text {k}" for k in range(MAX_EMBED_TEXTS + 3)])
    assert len(result.vectors) == MAX_EMBED_TEXTS + 3


async def test_a_direct_call_over_the_limit_names_the_count(sdk: Client) -> None:
    from grove_explorer.protos import chat_pb2

    texts = ["x"] * (MAX_EMBED_TEXTS + 1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sdk.stub.EmbedTexts(chat_pb2.EmbedTextsRequest(texts=texts))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{MAX_EMBED_TEXTS + 1} texts" in (caught.value.details() or "")


async def test_backend_failures_map_like_a_replys(sdk: Client, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_status = 429
    fake_openai.retry_after = "7"
    with pytest.raises(BackendError) as caught:
        await sdk.grok.embed(["text"])
    assert caught.value.kind == "rate_limited"
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.retry_after_seconds == 7
    fake_openai.fail_status = None
    fake_openai.embeddings_models = set()
    with pytest.raises(BackendError) as caught:
        await sdk.grok.embed(["text"])
    assert caught.value.kind == "model_not_found"
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_reply_with_too_few_vectors_is_refused(
    sdk: Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.embeddings_count_off = 1
    with pytest.raises(BackendError, match="returned 1 embeddings for 2 texts"):
        await sdk.grok.embed(["one", "two"])


def test_only_an_openai_backend_may_name_an_embeddings_model() -> None:
    config = parse_models_config(
        {
            "models": {
                "e": {
                    "base_url": "http://127.0.0.1:1/v1",
                    "model": "m",
                    "embeddings_model": "emb",
                }
            }
        }
    )
    assert config.backends[0].embeddings_model == "emb"
    with pytest.raises(BackendConfigError, match="embeddings_model needs an OpenAI-compatible"):
        parse_models_config({"models": {"o": {"sampler": "offline", "embeddings_model": "e"}}})
