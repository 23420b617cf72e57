"""`grove sample --model A --model B` (issue 15's fan-out): N samples from each model, in
parallel, each sample's model in the table and `--json`; unknown names refused before
anything is sampled; a backend that is down fails only its own samples.

The server is configured as a user would (`ModelsConfig` backends): the offline model under
two names, "alpha" (the default) and "beta", and "down", an OpenAI-compatible backend at a
loopback port nobody listens on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import grove, isolated  # noqa: F401 (an autouse fixture)
from tests.helpers import collect
from tests.sweep_helpers import two_model_server


@pytest.fixture
async def models_server(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """The offline model as alpha and beta, and a backend that is down (tests/sweep_helpers)."""
    async with two_model_server(tmp_path) as server:
        yield server


async def chat(address: str) -> tuple[str, str]:
    """A conversation with one exchange; returns (conversation, human message) ids."""
    client = Client(api_host=address)
    try:
        conversation = client.grok.create_conversation()
        stream, future = conversation.add_response(
            "Tell me about maple seeds.", sampling=SamplingParams(max_tokens=8)
        )
        await collect(stream)
        reply = await future
        assert reply.parent_response_id is not None
        return conversation.conversation_id, reply.parent_response_id
    finally:
        await client.close()


async def children(address: str, cid: str, parent: str) -> list[str]:
    client = Client(api_host=address)
    try:
        loaded = await client.grok.get_conversation(cid)
        return [r.model_name for r in loaded.get_response(parent).children]
    finally:
        await client.close()


async def test_n_samples_from_each_model(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, human = await chat(models_server.address)
    argv = ("sample", cid, "--n", "2", "--model", "alpha", "--model", "beta", "--seed", "5")
    code, out, err = await grove(capsys, *argv, "--max-tokens", "6", "--json", *at)
    assert (code, err) == (0, "")
    samples = json.loads(out)["samples"]
    assert [(s["index"], s["model_name"], s["seed"]) for s in samples] == [
        (1, "alpha", 5),
        (2, "alpha", 6),
        (3, "beta", 5),
        (4, "beta", 6),
    ], "n per model, seeds S+i per model"
    assert all(s["message"] and s["token_count"] <= 6 for s in samples)
    assert sorted(await children(models_server.address, cid, human)) == [
        "alpha",
        "alpha",
        "alpha",
        "beta",
        "beta",
    ]
    # The table names each sample's model.
    code, out, err = await grove(
        capsys, "sample", cid, "-n", "1", "--model", "beta", "--model", "alpha", *at
    )
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["#", "ID", "MODEL"]
    assert [row.split()[2] for row in rows] == ["beta", "alpha"]


async def test_unknown_model_is_refused_before_sampling(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, human = await chat(models_server.address)
    code, out, err = await grove(
        capsys, "sample", cid, "-n", "2", "--model", "alpha", "--model", "no-such", *at
    )
    assert code == 1 and out == ""
    assert err == (
        "grove: unknown model 'no-such': this server offers alpha, beta, down. "
        "Nothing was sampled.\n"
    )
    assert await children(models_server.address, cid, human) == ["alpha"], "nothing sampled"
    # Too many in all is a usage error, before any server is asked.
    code, _, err = await grove(
        capsys, "sample", cid, "-n", "40", "--model", "alpha", "--model", "beta", *at
    )
    assert code == 2
    assert "--n 40 from each of 2 models is 80 samples; at most 64 in one command." in err


async def test_a_model_that_is_down_fails_only_its_samples(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, _ = await chat(models_server.address)
    argv = ("sample", cid, "-n", "2", "--model", "alpha", "--model", "down", "--json", *at)
    code, out, err = await grove(capsys, *argv)
    assert code == 1
    result = json.loads(out)
    assert [s["model_name"] for s in result["samples"]] == ["alpha", "alpha"]
    assert [(f["index"], f["model_name"]) for f in result["failures"]] == [
        (3, "down"),
        (4, "down"),
    ]
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("grove: samples 3, 4 failed: "), err
    assert "Traceback" not in err
