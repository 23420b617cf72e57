"""AddResponse with `merge`: a fused reply streamed and stored beside its sources.

A real server on loopback with a temporary SQLite file; the sources are manual model
replies (AddModelResponse) of known text, so the offline model's demo fusion is known
exactly. The OpenAI-compatible case runs against tests/fake_openai.py and checks the
messages the endpoint received.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.merging.prompts import MAX_SOURCE_CHARS, MAX_SOURCES
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.offline.fusion import demo_fusion
from tests.conftest import openai_backend
from tests.fake_openai import FakeOpenAI

SOURCES = (
    "Mulch keeps the roots warm. Water the beds before the frost. Roses need pruning.",
    "Water the beds before the first frost. Mulch keeps roots warm. Cover young trees.",
    "Mulch keeps the roots warm in winter. Bring pots indoors.",
)
FUSED = "Mulch keeps the roots warm. Water the beds before the frost."
FUSE = chat_pb2.MERGE_MODE_FUSE
CHECKLIST = chat_pb2.MERGE_MODE_CHECKLIST
CUSTOM = chat_pb2.MERGE_MODE_CUSTOM


class Forest:
    """A conversation: a question, its sampled reply, and three manual sibling replies."""

    def __init__(self, stub: chat_pb2_grpc.ChatStub) -> None:
        self.stub = stub
        self.cid = ""
        self.question = ""
        self.sampled = ""
        self.sources: list[str] = []

    async def build(self) -> Forest:
        self.cid = (
            await self.stub.CreateConversation(chat_pb2.CreateConversationRequest())
        ).conversation_id
        async for message in self.stub.AddResponse(
            chat_pb2.AddResponseRequest(
                conversation_id=self.cid, message="How do gardens survive the winter?"
            )
        ):
            if message.HasField("user_response"):
                self.question = message.user_response.response_id
            if message.HasField("model_response"):
                self.sampled = message.model_response.response_id
        for text in SOURCES:
            reply = await self.stub.AddModelResponse(
                chat_pb2.AddModelResponseRequest(
                    conversation_id=self.cid, message=text, parent_response_id=self.question
                )
            )
            self.sources.append(reply.response_id)
        return self

    def request(
        self,
        sources: list[str] | None = None,
        mode: int = FUSE,
        instruction: str = "",
        **fields: object,
    ) -> chat_pb2.AddResponseRequest:
        values: dict[str, object] = {
            "conversation_id": self.cid,
            "parent_response_id": self.question,
            "merge": chat_pb2.Merge(
                source_ids=self.sources if sources is None else sources,
                mode=mode,  # type: ignore[arg-type]
                instruction=instruction,
            ),
        }
        values.update(fields)
        return chat_pb2.AddResponseRequest(**values)  # type: ignore[arg-type]


async def run(
    stub: chat_pb2_grpc.ChatStub, request: chat_pb2.AddResponseRequest
) -> tuple[list[chat_pb2.AddResponseResponse], chat_pb2.Response]:
    messages = [message async for message in stub.AddResponse(request)]
    replies = [m.model_response for m in messages if m.HasField("model_response")]
    assert len(replies) == 1
    return messages, replies[0]


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[chat_pb2_grpc.ChatStub]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield chat_pb2_grpc.ChatStub(channel)


@pytest.fixture
async def forest(stub: chat_pb2_grpc.ChatStub) -> Forest:
    return await Forest(stub).build()


def text_of(messages: list[chat_pb2.AddResponseResponse]) -> str:
    return "".join(
        m.token.token.final_logit.string_token
        for m in messages
        if m.HasField("token") and m.token.HasField("token")
    )


async def test_offline_fusion_streams_the_shared_sentences_and_stores_a_sibling(
    stub: chat_pb2_grpc.ChatStub, forest: Forest
) -> None:
    messages, reply = await run(stub, forest.request(top_logprobs=2))
    assert reply.message == FUSED == text_of(messages), "streamed as tokens, stored whole"
    assert reply.parent_response_id == forest.question, "a sibling of its sources"
    assert list(reply.merged_from) == forest.sources
    assert reply.merge_mode == FUSE and reply.merge_instruction == ""
    assert not reply.partial and reply.model_name == "grove-offline-ngram"
    assert reply.finish_reason == chat_pb2.FINISH_REASON_STOP

    loaded = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=forest.cid))
    stored = {r.response_id: r for r in loaded.responses}[reply.response_id]
    assert list(stored.merged_from) == forest.sources and stored.merge_mode == FUSE
    # Every other response says nothing of merging.
    assert all(not r.merged_from for r in loaded.responses if r.response_id != reply.response_id)

    tokens = await stub.GetResponseTokens(
        chat_pb2.GetResponseTokensRequest(conversation_id=forest.cid, response_id=reply.response_id)
    )
    # Each token's logprob is the share of sources making its sentence: 3 of 3, then 2.
    by_token = [(t.final_logit.string_token, t.final_logit.logprob) for t in tokens.tokens]
    assert "".join(text for text, _ in by_token) == FUSED
    assert by_token[0] == ("Mulch", 0.0)
    last_text, last_logprob = by_token[-1]
    assert last_text == " frost." and math.isclose(last_logprob, math.log(2 / 3), rel_tol=1e-6)

    again = await run(stub, forest.request(sampling_params=_seed(99)))
    assert again[1].message == FUSED, "the demo is the same whatever the seed"


def _seed(seed: int) -> object:
    from grove_explorer.protos import sampler_public_pb2

    return sampler_public_pb2.SamplingParams(seed=seed)


async def test_checklist_and_custom_round_trip_their_instruction(
    stub: chat_pb2_grpc.ChatStub, forest: Forest
) -> None:
    points = "Mulch the beds\nBring pots indoors"
    _, checklist = await run(stub, forest.request(mode=CHECKLIST, instruction=points))
    assert checklist.message == FUSED + "\n\n- Mulch the beds\n- Bring pots indoors"
    assert checklist.merge_mode == CHECKLIST and checklist.merge_instruction == points
    _, custom = await run(stub, forest.request(mode=CUSTOM, instruction="Answer as a haiku."))
    assert custom.message.startswith(FUSED + "\n\n(Offline demo fusion")
    assert "Instruction noted: Answer as a haiku." in custom.message
    loaded = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=forest.cid))
    by_id = {r.response_id: r for r in loaded.responses}
    assert by_id[custom.response_id].merge_instruction == "Answer as a haiku."
    assert by_id[custom.response_id].merge_mode == CUSTOM
    assert by_id[checklist.response_id].merge_instruction == points


def test_demo_fusion_falls_back_to_the_most_typical_source() -> None:
    sources = ["Cats sleep a lot.", "Dogs bark at night.", "Birds sing at dawn."]
    text = "".join(piece.text for piece in demo_fusion(sources, "fuse", ""))
    assert text == "Cats sleep a lot.", "nothing shared: the first of equally typical ones"


async def test_a_stopped_fusion_keeps_its_partial_reply_with_its_sources(
    make_server: object, tmp_path: object
) -> None:
    running: GroveServer = make_server(token_delay_ms=40.0)  # type: ignore[operator]
    await running.start()
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = chat_pb2_grpc.ChatStub(channel)
            forest = await Forest(stub).build()
            call = stub.AddResponse(forest.request(request_id="fuse-1"))
            async for message in call:
                if message.HasField("token"):
                    break
            call.cancel()
            # The partial reply is stored by the server once it sees the cancellation.
            for _ in range(200):
                loaded = await stub.GetConversation(
                    chat_pb2.GetConversationRequest(conversation_id=forest.cid)
                )
                kept = [r for r in loaded.responses if r.merged_from]
                if kept:
                    break
                await asyncio.sleep(0.02)  # polling the store, not timing the stream
            assert len(kept) == 1
            partial = kept[0]
            assert partial.partial and list(partial.merged_from) == forest.sources
            assert partial.merge_mode == FUSE
            assert partial.finish_reason == chat_pb2.FINISH_REASON_CANCELLED
            assert FUSED.startswith(partial.message) and partial.message != FUSED
    finally:
        await running.stop()


BAD = grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (lambda f: f.request(message="Hi"), BAD, "message must be empty"),
        (lambda f: f.request(prefix="So"), BAD, "cannot start from a given prefix"),
        (lambda f: f.request(parent_response_id=""), BAD, "needs parent_response_id"),
        (lambda f: f.request(sources=f.sources[:1]), BAD, "at least 2 source replies, got 1"),
        (
            lambda f: f.request(sources=[f.sources[0], f.sources[0]]),
            BAD,
            "is given twice",
        ),
        (lambda f: f.request(mode=0), BAD, "is not fuse, checklist or custom"),
        (lambda f: f.request(mode=CHECKLIST), BAD, "at least one checked point"),
        (lambda f: f.request(mode=CHECKLIST, instruction=" \n "), BAD, "at least one checked"),
        (lambda f: f.request(mode=CUSTOM), BAD, "needs an instruction"),
        (lambda f: f.request(instruction="be brief"), BAD, "takes no instruction"),
        (
            lambda f: f.request(mode=CUSTOM, instruction="x\x00"),
            BAD,
            "NUL",
        ),
        (
            lambda f: f.request(sources=[*f.sources[:1], "0" * 32]),
            BAD,
            "is not in conversation",
        ),
        (lambda f: f.request(sources=[*f.sources[:1], "nope"]), BAD, "is not a Grove id"),
        (
            lambda f: f.request(sources=[f.sources[0], f.question]),
            BAD,
            "is a human message",
        ),
        (
            lambda f: f.request(sources=[f.sources[0], f.sampled], parent_response_id=f.sampled),
            BAD,
            "is not a child of",
        ),
        (
            lambda f: f.request(model_name="nope"),
            BAD,
            "Unknown model",
        ),
        (
            lambda f: f.request(sources=[f.sources[0]] + [f"{i:032x}" for i in range(MAX_SOURCES)]),
            BAD,
            f"at most {MAX_SOURCES} source replies, got {MAX_SOURCES + 1}",
        ),
        (
            lambda f: f.request(conversation_id="f" * 32),
            grpc.StatusCode.NOT_FOUND,
            "does not exist",
        ),
        (
            lambda f: chat_pb2.AddResponseRequest(
                conversation_id=f.cid,
                parent_response_id=f.question,
                mode=chat_pb2.SAMPLING_MODE_COMPLETION,
                merge=chat_pb2.Merge(source_ids=f.sources, mode=FUSE),
            ),
            BAD,
            "chat mode",
        ),
    ],
)
async def test_bad_fusions_get_their_status_and_store_nothing(
    stub: chat_pb2_grpc.ChatStub, forest: Forest, change: object, code: object, words: str
) -> None:
    request = change(forest)  # type: ignore[operator]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await run(stub, request)
    assert raised.value.code() == code
    assert words in (raised.value.details() or "")
    loaded = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=forest.cid))
    assert len(loaded.responses) == 5, "nothing stored"


async def test_too_much_source_text_is_refused_with_the_count(
    stub: chat_pb2_grpc.ChatStub, forest: Forest
) -> None:
    big = "word " * (MAX_SOURCE_CHARS // 5 // 2 + 10)
    ids = []
    for _ in range(2):
        reply = await stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=forest.cid, message=big, parent_response_id=forest.question
            )
        )
        ids.append(reply.response_id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await run(stub, forest.request(sources=ids))
    assert raised.value.code() == BAD
    assert f"hold {2 * len(big)} characters; a fusion reads at most {MAX_SOURCE_CHARS}" in (
        raised.value.details() or ""
    )


async def test_an_openai_model_reads_the_path_the_sources_and_the_task(
    server_config: ServerConfig, fake_openai: FakeOpenAI
) -> None:
    offline_first = "grove-offline-ngram"
    models = ModelsConfig(backends=(openai_backend(fake_openai),), default_model=offline_first)
    running = GroveServer(replace(server_config, models=models))
    await running.start()
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = chat_pb2_grpc.ChatStub(channel)
            forest = await Forest(stub).build()
            fake_openai.requests.clear()
            _, reply = await run(
                stub,
                forest.request(mode=CUSTOM, instruction="Answer in one line.", model_name="fake"),
            )
            assert reply.model_name == "fake" and list(reply.merged_from) == forest.sources
            assert reply.message == "".join(fake_openai.reply_tokens)[: len(reply.message)]
            (body,) = fake_openai.requests
            messages = body["messages"]
            users = [m for m in messages if m["role"] == "user"]
            assert users[0]["content"] == "How do gardens survive the winter?"
            last = messages[-1]
            assert last["role"] == "user"
            for index, text in enumerate(SOURCES):
                assert f"<<< Candidate answer {index + 1} >>>\n{text}\n" in last["content"]
            assert "Instruction: Answer in one line." in last["content"]
            # The path holds the question only: the sources are not assistant turns.
            assert not any(m["role"] == "assistant" for m in messages)
    finally:
        await running.stop()
