"""`grove stats`: the spread of a batch of siblings, on the offline model and with embeddings.

Runs `app.cli.main` in a worker thread (it runs its own event loop) against a real server
on the test's loop, as tests/app/test_headless.py does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import (
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)
from tests.conftest import openai_backend
from tests.fake_openai import DEFAULT_EMBEDDINGS_MODEL, FakeOpenAI
from tests.helpers import collect


async def batch(client: Client, n: int, model: str = "") -> tuple[str, list[str]]:
    """A question with `n` sampled sibling replies and a hand-written one (the last)."""
    conversation = client.grok.create_conversation(model_name=model)
    stream, future = conversation.add_response(
        "What is six times seven? End with 'Answer: N'.",
        sampling=SamplingParams(max_tokens=30, seed=1),
    )
    await collect(stream)
    first = await future
    ids = [first.response_id]
    for seed in range(2, n + 1):
        sample = conversation.sample(
            parent_response_id=first.parent_response_id,
            sampling=SamplingParams(max_tokens=30, seed=seed),
        )
        async for _event in sample:
            pass
        ids.append((await sample.future).response_id)
    # A hand-written sibling: its answer is read, its latency and logprobs are unknown.
    stream, future = first.replace("Six times seven.\nAnswer: 42")
    await collect(stream)
    ids.append((await future).response_id)
    return conversation.conversation_id, ids


async def test_stats_on_the_offline_model(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, ids = await batch(client, 3)
    at = ("--server", server.address)
    code, out, err = await grove(capsys, "stats", cid, "--json", *at)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["response_ids"] == ids
    assert data["count"] == 4 and data["measure"] == "rouge-l"
    assert data["embeddings_from"] is None
    assert sorted(data["order"]) == [0, 1, 2, 3]
    assert len(data["matrix"]) == 4 and all(row[i] == 1.0 for i, row in enumerate(data["matrix"]))
    assert data["answers"]["answers"][3] == "42"
    assert data["answers"]["answered"] + data["answers"]["without"] == 4
    by_name = {(d["name"], d["unit"]): d for d in data["distributions"]}
    logprob = by_name[("mean logprob", "nats/token")]
    assert logprob["missing"] == 1, "the hand-written reply has no logprobs"
    assert all(v is not None and v <= 0 for v in logprob["values"][:3])
    assert by_name[("total time", "s")]["missing"] == 1
    assert data["disagreement"]["reference"] == data["medoid"]

    code, out, err = await grove(capsys, "stats", cid, "--threshold", "0", "--json", *at)
    assert code == 0, err
    assert json.loads(out)["clusters"] == [[0, 1, 2, 3]], "at 0 every pair is linked"
    code, out, err = await grove(capsys, "stats", cid, "--threshold", "2", *at)
    assert code == 2 and "between -1 and 1" in err

    code, out, err = await grove(capsys, "stats", cid, *at)
    assert code == 0, err
    assert "Spread of 4 samples" in out and "ROUGE-L" in out
    assert "majority answer:" in out
    assert "mean logprob" in out and "order (seriation):" in out

    # --leaf on the human question reads no batch: it has no model reply on its path.
    conversation = await client.grok.get_conversation(cid)
    human = conversation.get_response(ids[0]).parent_response_id
    assert human is not None
    code, out, err = await grove(capsys, "stats", cid, "--leaf", human, *at)
    assert code == 1 and "has no model reply" in err


@pytest.fixture
async def embedding_server(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> AsyncIterator[GroveServer]:
    """The fake endpoint with embeddings as the default model, the offline one beside it."""
    backend = openai_backend(fake_openai, embeddings_model=DEFAULT_EMBEDDINGS_MODEL)
    models = ModelsConfig(backends=(backend,), default_model="fake")
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_stats_embeds_when_the_model_offers_embeddings(
    embedding_server: GroveServer,
    fake_openai: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with Client(api_host=embedding_server.address) as client:
        cid, ids = await batch(client, 2)
    at = ("--server", embedding_server.address)
    code, out, err = await grove(capsys, "stats", cid, "--json", *at)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["measure"] == "embedding-cosine"
    assert data["embeddings_model"] == DEFAULT_EMBEDDINGS_MODEL
    assert data["embeddings_from"] == "fake"
    assert len(fake_openai.embedding_requests[-1]["input"]) == len(ids)

    code, out, _ = await grove(capsys, "stats", cid, "--no-embeddings", *at)
    assert code == 0 and "ROUGE-L" in out.splitlines()[1]

    # An automatic choice that fails falls back to words and says why.
    fake_openai.fail_status = 500
    code, out, err = await grove(capsys, "stats", cid, *at)
    assert code == 0, err
    assert "Embeddings failed" in out and "ROUGE-L" in out
    # An explicit one that fails is an error.
    code, out, err = await grove(capsys, "stats", cid, "--embeddings-model", "fake", *at)
    assert code == 1 and "'fake'" in err
    fake_openai.fail_status = None
    code, out, err = await grove(
        capsys, "stats", cid, "--embeddings-model", "grove-offline-ngram", *at
    )
    assert code == 1 and "offers no embeddings" in err
