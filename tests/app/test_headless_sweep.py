"""`grove sweep`: a grid at the end of the path, per-cell table / JSON / CSV, progress on
stderr, a re-run that skips what is done (and says how many), bad axes refused before
anything is sampled, a failing model failing only its cells."""

from __future__ import annotations

import csv
import io
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


async def replies(address: str, cid: str, parent: str) -> int:
    client = Client(api_host=address)
    try:
        loaded = await client.grok.get_conversation(cid)
        return len(loaded.get_response(parent).children)
    finally:
        await client.close()


async def test_sweep_json_csv_table_and_rerun(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, human = await chat(models_server.address)
    grid = ("--model", "alpha,beta", "--temperature", "0.2,0.8", "--seeds", "2")
    argv = ("sweep", cid, *grid, "--max-tokens", "5", "--concurrency", "3", "--rubric", "default")
    code, out, err = await grove(capsys, *argv, "--json", *at)
    assert code == 0, err
    assert err.splitlines()[-1] == "sweep: 8/8 samples, 0 failed", "progress on stderr"
    result = json.loads(out)
    assert (result["skipped"], result["failed"]) == (0, 0)
    cells = [(c["model"], c["temperature"], c["n"]) for c in result["cells"]]
    assert cells == [("alpha", 0.2, 2), ("alpha", 0.8, 2), ("beta", 0.2, 2), ("beta", 0.8, 2)]
    assert all(c["mean_score"] is not None and c["mean_tokens"] > 0 for c in result["cells"])
    assert [s["seed"] for s in result["samples"][:2]] == [0, 1]
    assert await replies(models_server.address, cid, human) == 9

    # Again as CSV: every sample is done, so nothing is sampled and stderr says so.
    code, out, err = await grove(capsys, *argv, "--csv", *at)
    assert code == 0
    assert "grove: skipped 8 of 8 samples: already made by this sweep." in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["model"], r["temperature"], r["n"]) for r in rows] == [
        ("alpha", "0.2", "2"),
        ("alpha", "0.8", "2"),
        ("beta", "0.2", "2"),
        ("beta", "0.8", "2"),
    ]
    assert await replies(models_server.address, cid, human) == 9

    # The table: one row per cell; a third seed samples only the new four.
    code, out, err = await grove(capsys, "sweep", cid, *grid[:4], "--seeds", "3", *at)
    assert code == 0 and "skipped 8 of 12 samples" in err
    header, *lines = out.splitlines()
    assert header.split() == [
        "MODEL", "T", "TOP-P", "PROMPT", "N", "FAILED", "TOKENS", "LOGPROB", "WORDS",
        "TTFT", "LATENCY", "SCORE",
    ]  # fmt: skip
    assert [line.split()[:5] for line in lines] == [
        ["alpha", "0.2", "default", "-", "3"],
        ["alpha", "0.8", "default", "-", "3"],
        ["beta", "0.2", "default", "-", "3"],
        ["beta", "0.8", "default", "-", "3"],
    ]
    assert await replies(models_server.address, cid, human) == 13


async def test_bad_sweeps_are_refused_before_sampling(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, human = await chat(models_server.address)
    code, out, err = await grove(capsys, "sweep", cid, "--temperature", "0.2,hot", *at)
    assert (code, out) == (2, "")
    assert "--temperature takes numbers separated by commas, not 'hot'." in err
    code, _, err = await grove(capsys, "sweep", cid, "--model", "a,b", "--seeds", "200", *at)
    assert code == 2 and "2 cells x 200 seeds is 400 samples; at most 256" in err
    code, _, err = await grove(capsys, "sweep", cid, "--model", "alpha,nope", *at)
    assert code == 1
    assert err == (
        "grove: unknown model 'nope': this server offers alpha, beta, down. Nothing was sampled.\n"
    )
    code, _, err = await grove(capsys, "sweep", cid, "--system-prompt", "default,odd", *at)
    assert code == 1 and "unknown system prompt 'odd': this server offers default, fun." in err
    assert await replies(models_server.address, cid, human) == 1


async def test_a_failing_model_fails_only_its_cell(
    models_server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--server", models_server.address)
    cid, _ = await chat(models_server.address)
    argv = ("sweep", cid, "--model", "alpha,down", "--system-prompt", "default,fun", "--json")
    code, out, err = await grove(capsys, *argv, *at)
    assert code == 1
    cells = json.loads(out)["cells"]
    assert [(c["model"], c["system_prompt"], c["n"], c["failed"]) for c in cells] == [
        ("alpha", "", 1, 0),
        ("alpha", "fun", 1, 0),
        ("down", "", 0, 1),
        ("down", "fun", 0, 1),
    ]
    failures = [line for line in err.splitlines() if "failed:" in line]
    assert len(failures) == 2 and failures[0].startswith(
        "grove: 1 sample of down (T default, top-p default, prompt default) failed: "
    )
    assert "Traceback" not in err
