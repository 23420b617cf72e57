"""Running a sweep against a real server: the offline model as "alpha" and "beta", and
"down" (an OpenAI-compatible backend at a port nobody listens on).

Each sample is a stored sibling with its parameters; the concurrency bound holds (counted
by the runner's gauge, no sleeps); a re-run skips every sample already made; a failing
model fails only its own samples, kept with their errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from grove_explorer.client import Client, Conversation, SamplingParams
from grove_explorer.client.sweeps import SweepProgress, SweepSpec, cell_rows, run_sweep
from grove_explorer.server.backends import DEFAULT_SYSTEM_PROMPT, FUN_SYSTEM_PROMPT
from grove_explorer.server.runtime import GroveServer
from tests.fake_openai import FakeOpenAI
from tests.helpers import collect
from tests.sweep_helpers import two_model_server


@pytest.fixture
async def models_server(tmp_path: Path) -> AsyncIterator[GroveServer]:
    async with two_model_server(tmp_path) as server:
        yield server


@pytest.fixture
async def client(models_server: GroveServer) -> AsyncIterator[Client]:
    client = Client(api_host=models_server.address)
    try:
        yield client
    finally:
        await client.close()


async def exchange(client: Client) -> tuple[Conversation, str]:
    """A conversation with one exchange; returns it and the reply's id."""
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Tell me about maple seeds.", sampling=SamplingParams(max_tokens=6)
    )
    await collect(stream)
    return conversation, (await future).response_id


async def test_samples_are_siblings_with_their_parameters_and_bound(client: Client) -> None:
    conversation, reply = await exchange(client)
    parent = conversation.get_response(reply).parent_response_id or ""
    catalog = {m.name: m for m in (await client.grok.list_models()).models}
    spec = SweepSpec(
        models=("alpha", "beta"),
        temperatures=(0.2, 0.8),
        system_prompts=("", "fun"),
        seeds=2,
        base_seed=7,
        max_tokens=5,
        concurrency=3,
    )
    seen: list[SweepProgress] = []
    result = await run_sweep(conversation, reply, spec, models=catalog, on_progress=seen.append)
    assert (result.skipped, result.failed) == (0, 0)
    assert result.peak_concurrency == 3, "16 samples, never more than 3 streams at once"
    assert seen[0] == SweepProgress(0, 16, 0, 0) and seen[-1] == SweepProgress(16, 16, 0, 0)
    assert [p.done for p in seen] == list(range(17))
    children = {r.response_id: r for r in conversation.get_children(parent)}
    assert len(children) == 17
    for outcome in result.outcomes:
        stored = children[outcome.response_id or ""]
        s = outcome.sample
        used = stored.sampling_params
        assert used is not None and stored.model_name == s.model and used.seed == s.seed
        assert used.temperature == pytest.approx(s.temperature, abs=1e-4)
        assert 0 < outcome.tokens <= 5 and outcome.words > 0
        assert outcome.mean_logprob is not None and outcome.mean_logprob <= 0
        assert outcome.total_time is not None
    rows = cell_rows(result.outcomes)
    assert len(rows) == 8 and all(row.n == 2 for row in rows)
    assert conversation.leaf_response_id == reply, "a sweep does not move the leaf"

    # The same sweep again: every sample is there already, nothing is sampled.
    again = await run_sweep(conversation, reply, spec, models=catalog)
    assert again.skipped == 16 and again.peak_concurrency == 0
    assert len(list(conversation.get_children(parent))) == 17
    assert [o.response_id for o in again.outcomes] == [o.response_id for o in result.outcomes]
    assert all(o.mean_logprob is not None for o in again.outcomes), "read back from the store"
    # One more seed: only the new seed's samples are made.
    more = await run_sweep(conversation, reply, replace(spec, seeds=3), models=catalog)
    assert (more.skipped, len(more.outcomes)) == (16, 24)
    assert len(list(conversation.get_children(parent))) == 25


async def test_a_failing_model_fails_only_its_cells(client: Client) -> None:
    conversation, reply = await exchange(client)
    spec = SweepSpec(models=("alpha", "down"), seeds=2, max_tokens=4, concurrency=4)
    result = await run_sweep(conversation, reply, spec)
    assert result.failed == 2
    good, bad = cell_rows(result.outcomes)
    assert (good.key.model, good.n, good.failed) == ("alpha", 2, 0)
    assert (bad.key.model, bad.n, bad.failed) == ("down", 0, 2)
    assert all(bad.errors)


async def test_a_rubric_scores_every_reply_once(client: Client) -> None:
    conversation, reply = await exchange(client)
    spec = SweepSpec(models=("alpha",), temperatures=(0.3, 1.0), max_tokens=6)
    result = await run_sweep(conversation, reply, spec, rubric_name="default")
    assert result.judge_error is None and result.judged == 2
    assert all(o.score is not None for o in result.outcomes)
    again = await run_sweep(conversation, reply, spec, rubric_name="default")
    assert again.judged == 0, "scores of the first run are reused"
    assert [o.score for o in again.outcomes] == [o.score for o in result.outcomes]


async def test_a_system_prompt_per_request(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    """Each sample sends its cell's prompt (seen by the backend); the conversation's own
    setting is untouched; an unknown prompt fails only its cell."""
    client = Client(api_host=openai_server.address)
    try:
        conversation, reply = await exchange(client)
        sent_before = len(fake_openai.requests)
        spec = SweepSpec(models=("fake",), system_prompts=("", "fun", "nope"), max_tokens=4)
        made: list[str | None] = []
        result = await run_sweep(
            conversation, reply, spec, on_sample=lambda o: made.append(o.response_id)
        )
        plain, fun, unknown = result.outcomes
        assert sorted(map(str, made)) == sorted([plain.response_id, fun.response_id])
        assert plain.response_id and fun.response_id and unknown.response_id is None
        assert unknown.error is not None and "nope" in unknown.error and result.failed == 1
        systems = sorted(
            m["content"]
            for body in fake_openai.requests[sent_before:]
            for m in body["messages"]
            if m["role"] == "system"
        )
        assert systems == sorted([DEFAULT_SYSTEM_PROMPT, FUN_SYSTEM_PROMPT])
        assert conversation.system_prompt_name == ""
    finally:
        await client.close()
