"""Why a reply ended is recorded: from both samplers, for every partial, through the store.

The OpenAI-compatible sampler talks to tests/fake_openai.py, a real HTTP server; the
server cases run a real Grove server on loopback with a temporary SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import FINISH_FROM_WIRE, FINISH_TO_WIRE
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import (
    Finish,
    FinishReason,
    PathMessage,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    Usage,
)
from grove_explorer.server.sampler.offline import OfflineSampler
from grove_explorer.server.sampler.openai_compat import (
    OpenAIBackendSettings,
    OpenAICompatibleSampler,
)
from grove_explorer.server.servicer.reply_streaming import stop_cuts_reply
from grove_explorer.server.store import Checkpoint, NewResponse, SqliteStore
from tests.fake_openai import DEFAULT_MODEL, DEFAULT_REPLY, FakeOpenAI
from tests.helpers import collect

PATH = [PathMessage("human", "How do gardens survive the winter?")]


def params(max_tokens: int, seed: int = 7) -> ResolvedParams:
    return ResolvedParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=seed)


async def events_of(sampler: Any, resolved: ResolvedParams) -> list[SampleEvent]:
    return [event async for event in sampler.sample(PATH, resolved)]


def split(events: list[SampleEvent]) -> tuple[list[SampledToken], list[Finish]]:
    tokens = [e for e in events if isinstance(e, SampledToken)]
    finishes = [e for e in events if isinstance(e, Finish)]
    return tokens, finishes


def test_every_reason_has_a_wire_value_and_back() -> None:
    assert set(FINISH_TO_WIRE) == {reason.value for reason in FinishReason}
    assert {FINISH_FROM_WIRE[wire] for wire in FINISH_TO_WIRE.values()} == set(FINISH_TO_WIRE)
    assert FINISH_FROM_WIRE[chat_pb2.FINISH_REASON_UNSPECIFIED] == ""


# -- the offline sampler ---------------------------------------------------------------------


async def test_offline_reports_stop_and_length_exactly() -> None:
    sampler = OfflineSampler()
    tokens, finishes = split(await events_of(sampler, params(4096)))
    assert finishes == [Finish(FinishReason.STOP)]
    natural = len(tokens)
    assert 5 < natural < 4096
    # Ending exactly at max_tokens is still the model's own stop, not a cut.
    tokens, finishes = split(await events_of(sampler, params(natural)))
    assert (len(tokens), finishes) == (natural, [Finish(FinishReason.STOP)])
    tokens, finishes = split(await events_of(sampler, params(natural - 1)))
    assert (len(tokens), finishes) == (natural - 1, [Finish(FinishReason.LENGTH)])
    events = await events_of(sampler, params(3))
    assert events[-1] == Finish(FinishReason.LENGTH), "Finish comes last"


# -- the OpenAI-compatible sampler, against a real HTTP server --------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def openai_sampler(fake: FakeOpenAI) -> AsyncIterator[OpenAICompatibleSampler]:
    settings = OpenAIBackendSettings(
        name="fake", base_url=fake.base_url, model=DEFAULT_MODEL, max_retries=0
    )
    sampler = OpenAICompatibleSampler(settings)
    try:
        yield sampler
    finally:
        await sampler.aclose()


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, [Finish(FinishReason.STOP)]),  # the fake says "stop" for a whole reply
        ("content_filter", [Finish(FinishReason.CONTENT_FILTER)]),
        ("tool_calls", [Finish(FinishReason.TOOL_CALLS)]),
        ("function_call", [Finish(FinishReason.TOOL_CALLS)]),
        ("eos", [Finish(FinishReason.STOP)]),
        ("", []),  # no finish_reason at all: the server infers it
        ("mystery", []),  # a word Grove does not know is not guessed at
    ],
)
async def test_openai_finish_reason_is_read_from_the_stream(
    fake: FakeOpenAI,
    openai_sampler: OpenAICompatibleSampler,
    sent: str | None,
    expected: list[Finish],
) -> None:
    fake.finish_reason = sent
    tokens, finishes = split(await events_of(openai_sampler, params(64)))
    assert "".join(t.text for t in tokens) == "".join(DEFAULT_REPLY)
    assert finishes == expected


async def test_openai_length_from_the_backend_and_from_a_backend_that_ignores_it(
    fake: FakeOpenAI, openai_sampler: OpenAICompatibleSampler
) -> None:
    tokens, finishes = split(await events_of(openai_sampler, params(3)))
    assert fake.requests[-1]["max_tokens"] == 3
    assert (len(tokens), finishes) == (3, [Finish(FinishReason.LENGTH)])
    fake.ignore_max_tokens = True  # sends all 9 tokens, then "stop"
    tokens, finishes = split(await events_of(openai_sampler, params(3)))
    assert (len(tokens), finishes) == (3, [Finish(FinishReason.LENGTH)])
    # A packed delta cut part way is a cut even when the backend then says "stop".
    fake.reply_tokens = ["a", "b", "c", "d"]
    fake.tokens_per_chunk = 4
    tokens, finishes = split(await events_of(openai_sampler, params(3)))
    assert ([t.text for t in tokens], finishes) == (["a", "b", "c"], [Finish(FinishReason.LENGTH)])


# -- the server: stored and sent ------------------------------------------------------------


async def test_replies_carry_their_finish_reason_and_keep_it(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response(
        "Tell me about oak trees.", sampling=SamplingParams(max_tokens=3, seed=11)
    )
    await collect(stream)
    cut = await future
    assert (cut.finish_reason, cut.partial, cut.token_count) == ("length", False, 3)
    assert cut.proto.finish_reason == chat_pb2.FINISH_REASON_LENGTH
    human = cut.parent_response
    assert human is not None and human.finish_reason == ""
    # Seeded and with room to spare: an unseeded reply may run past the default 200 tokens.
    stream, future = conversation.add_response(
        "And maples?", sampling=SamplingParams(seed=12, max_tokens=2000)
    )
    await collect(stream)
    whole = await future
    assert whole.finish_reason == "stop"
    stream, future = whole.replace("Written by hand.")
    await collect(stream)
    manual = await future
    assert (manual.manual, manual.finish_reason) == (True, "")
    loaded = await client.grok.get_conversation(conversation.conversation_id)
    assert [r.finish_reason for r in loaded.responses] == ["", "length", "", "stop", ""]


async def test_stop_cancel_and_shutdown_partials_say_so(make_server: Any) -> None:
    running: GroveServer = make_server(token_delay_ms=20.0)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "A long story.", sampling=SamplingParams(max_tokens=500)
            )
            asked = False
            async for _ in stream:
                if not asked:
                    asked = await stream.stop()  # then read on until the server ends it
            stopped = await future
            assert (stopped.partial, stopped.finish_reason) == (True, "stopped")

            stream, future = conversation.add_response(
                "Another long story.", sampling=SamplingParams(max_tokens=500)
            )
            async for _ in stream:
                break
            await stream.aclose()
            cancelled = await _newest_model_reply(sdk, conversation.conversation_id, stopped)
            assert (cancelled.partial, cancelled.finish_reason) == (True, "cancelled")

            stream, future = conversation.add_response(
                "A story cut short.", sampling=SamplingParams(max_tokens=500)
            )
            stopping = None
            async for _ in stream:
                if stopping is None:
                    stopping = asyncio.create_task(running.stop())
            cut = await future
            assert stopping is not None
            await stopping
            assert (cut.partial, cut.finish_reason) == (True, "shutdown")
    finally:
        await running.stop()
    again = make_server()
    await again.start()
    try:
        async with Client(api_host=again.address) as sdk:
            loaded = await sdk.grok.get_conversation(conversation.conversation_id)
            reasons = [r.finish_reason for r in loaded.responses if r.sender == "model"]
            assert reasons == ["stopped", "cancelled", "shutdown"]
    finally:
        await again.stop()


async def _newest_model_reply(sdk: Client, conversation_id: str, older: Any) -> Any:
    """The model reply stored after `older` (the server stores a cancelled one on its own)."""
    async with asyncio.timeout(10):
        while True:
            loaded = await sdk.grok.get_conversation(conversation_id)
            models = [r for r in loaded.responses if r.sender == "model"]
            if models[-1].response_id != older.response_id:
                return models[-1]
            await asyncio.sleep(0.01)


async def test_openai_backend_reasons_reach_the_store(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with Client(api_host=openai_server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response("Hi", sampling=SamplingParams(max_tokens=2))
        await collect(stream)
        assert (await future).finish_reason == "length"
        fake_openai.finish_reason = "content_filter"
        stream, future = conversation.add_response("Again")
        await collect(stream)
        assert (await future).finish_reason == "content_filter"
        # A backend that names no reason: the server infers "stop" (under max_tokens).
        fake_openai.finish_reason = ""
        stream, future = conversation.add_response("Once more")
        await collect(stream)
        assert (await future).finish_reason == "stop"
        # A backend that breaks off: the partial reply it left says "error".
        fake_openai.finish_reason = None
        fake_openai.break_after = 3
        stream, future = conversation.add_response("Break")
        with pytest.raises(Exception, match="partial reply was kept"):
            await collect(stream)
        broken = await future
        assert (broken.partial, broken.finish_reason) == (True, "error")
        loaded = await sdk.grok.get_conversation(conversation.conversation_id)
        reasons = [r.finish_reason for r in loaded.responses if r.sender == "model"]
        assert reasons == ["length", "content_filter", "stop", "error"]


# -- the store: checkpoints recovered after a crash, old rows --------------------------------


async def test_recovered_checkpoints_are_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "grove.sqlite3"
    async with SqliteStore(db) as store:
        conversation = await store.create_conversation("alice")
        cid = conversation.conversation_id
        root = await store.add_response("alice", NewResponse(cid, "hi", "human", None))
        new = NewResponse(cid, "half a reply", "model", root.response_id, finish_reason="stop")
        await store.save_checkpoints([Checkpoint("k1", "alice", new)], owner="gone")
        # A checkpoint written before finish reasons existed has no such key.
        with sqlite3.connect(db) as conn:
            (payload,) = conn.execute("SELECT response FROM checkpoints").fetchone()
            data = json.loads(payload)
            assert data["finish_reason"] == "interrupted"
            del data["finish_reason"]
            older = replace(new, message="an older half")
            older_data = {**data, "message": older.message}
            conn.execute(
                "INSERT INTO checkpoints (checkpoint_id, user_id, conversation_id, response,"
                " create_time, update_time, owner)"
                " SELECT 'k0', user_id, conversation_id, ?, create_time, update_time, owner"
                " FROM checkpoints",
                (json.dumps(older_data),),
            )
        recovered = await store.recover_checkpoints()
        assert sorted((r.message, r.partial, r.finish_reason) for r in recovered) == [
            ("an older half", True, "interrupted"),
            ("half a reply", True, "interrupted"),
        ]


# `stop_cuts_reply`: whether a stop cut the reply (what StopResponse answers and `partial` says).


async def _ending(*events: SampleEvent) -> AsyncIterator[SampleEvent]:
    for event in events:
        yield event


async def test_a_stop_just_before_the_models_end_cuts_nothing() -> None:
    ending = _ending(Usage(3, 4), Finish(FinishReason.LENGTH))
    assert await stop_cuts_reply(ending) == (False, FinishReason.LENGTH)


async def test_a_stop_before_another_token_cuts_the_reply() -> None:
    more = _ending(SampledToken(" more", -0.1), Finish(FinishReason.STOP))
    assert await stop_cuts_reply(more) == (True, None)


async def test_a_silent_sampler_is_cut_and_closed() -> None:
    closed = asyncio.Event()

    async def silent() -> AsyncIterator[SampledToken]:
        try:
            await asyncio.Event().wait()
            yield SampledToken("never", None)
        finally:
            closed.set()

    assert await stop_cuts_reply(silent()) == (True, None)
    assert closed.is_set(), "the sampler (its HTTP stream) is closed when the grace runs out"
