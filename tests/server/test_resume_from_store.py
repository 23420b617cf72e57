"""ResumeResponse of a reply no replica runs any more: resent from the store (issue 17).

A real server on loopback, on each store; the replies are stored as the servicer stores
them (a whole reply with its tokens, a crash's checkpoint recovered as a partial reply),
and the resume is a raw ResumeResponse call, so what goes over the wire is checked
message by message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.keys import hash_key
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store import Checkpoint, NewResponse, ResponseRecord, Store, TokenRow
from tests import both_stores

server_config = both_stores.server_config
make_server = both_stores.make_server

USER = "local"  # the caller of a server without keys
TOKENS: tuple[TokenRow, ...] = (
    ("Once", None, ()),  # a given prefix: chosen, its probability unknown
    (" upon", -0.25, ((" upon", -0.25), (" in", -1.5))),
    (" a", -0.125, ()),
    (" time", -0.5, ((" time", -0.5),)),
)


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[chat_pb2_grpc.ChatStub]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield chat_pb2_grpc.ChatStub(channel)


async def asked(
    stub: chat_pb2_grpc.ChatStub, request_id: str, after_tokens: int
) -> list[chat_pb2.AddResponseResponse]:
    return [
        message
        async for message in stub.ResumeResponse(
            chat_pb2.ResumeResponseRequest(request_id=request_id, after_tokens=after_tokens)
        )
    ]


def token_rows(messages: list[chat_pb2.AddResponseResponse]) -> list[TokenRow]:
    """The tokens the messages carry, each with its logprob (None: unknown) and top."""
    rows: list[TokenRow] = []
    for message in messages:
        if message.WhichOneof("response") != "token":
            continue
        sample = message.token
        for token in sample.tokens or [sample.token]:
            logprob = None if token.logprob_unknown else token.final_logit.logprob
            top = tuple((t.string_token, t.logprob) for t in token.top_logits)
            rows.append((token.final_logit.string_token, logprob, top))
    return rows


async def question(store: Store, request_id: str) -> tuple[str, ResponseRecord]:
    cid = (await store.create_conversation(USER)).conversation_id
    human = NewResponse(cid, "Tell me a story.", "human", None, request_id=request_id)
    return cid, await store.add_response(USER, human)


async def stored_reply(
    store: Store, cid: str, human: ResponseRecord, request_id: str
) -> ResponseRecord:
    """The whole reply to `human` stored under `request_id`, with its tokens (`TOKENS`)."""
    return await store.add_response(
        USER,
        NewResponse(
            cid,
            "".join(text for text, _, _ in TOKENS),
            "model",
            human.response_id,
            model_name="offline",
            token_count=3,
            prefix_length=4,
            finish_reason="stop",
            tokens=TOKENS,
            request_id=request_id,
        ),
    )


async def test_a_stored_whole_reply_is_resent_after_the_callers_tokens(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-whole")
    reply = await stored_reply(server.store, cid, human, "r-whole")

    for after in range(len(TOKENS) + 1):
        messages = await asked(stub, "r-whole", after)
        assert messages[0].user_response == response_to_proto(human), "the human message"
        assert messages[-1].model_response == response_to_proto(reply), "the stored reply last"
        assert token_rows(messages) == list(TOKENS[after:]), f"after {after}: exactly the rest"

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asked(stub, "r-whole", len(TOKENS) + 1)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "has 4 tokens" in (info.value.details() or "")


def all_gone(owner: str, updated: datetime) -> bool:
    return True


async def test_a_recovered_partial_reply_ends_the_stream_partial_whatever_the_caller_had(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-crash")
    running = NewResponse(
        cid,
        "Once upon",
        "model",
        human.response_id,
        model_name="offline",
        start_time=server.store.reserve_start_time(),
        request_id="r-crash",
    )
    # The checkpoint of a replica that died mid-reply, recovered by a live one.
    await server.store.save_checkpoints([Checkpoint("d" * 32, USER, running)], owner="dead")
    (kept,) = await server.store.recover_checkpoints(all_gone)

    for after in (0, 2, 40):  # the caller may have had more than the checkpoint kept
        messages = await asked(stub, "r-crash", after)
        kinds = [m.WhichOneof("response") for m in messages]
        assert kinds == ["user_response", "model_response"], "no tokens were stored"
        final = messages[-1].model_response
        assert final == response_to_proto(kept)
        assert final.partial and final.message == "Once upon"
        assert final.finish_reason == chat_pb2.FINISH_REASON_INTERRUPTED


async def test_a_request_whose_reply_is_not_stored_is_not_found(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    await question(server.store, "r-running")  # its reply samples elsewhere, or was lost
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asked(stub, "r-running", 0)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("grove-resume", "unknown") in tuple(info.value.trailing_metadata() or ())


async def test_only_its_maker_with_access_resumes_a_stored_reply(
    server_config: ServerConfig,
) -> None:
    keys = {hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"}
    server = GroveServer(replace(server_config, api_keys=keys))
    await server.start()
    try:
        cid = (await server.store.create_conversation("alice")).conversation_id
        await server.store.grant_access("alice", cid, "bob", "writer")
        human = await server.store.add_response(
            "alice", NewResponse(cid, "Hi.", "human", None, request_id="r-alice")
        )
        for who, request_id in (("alice", "r-alice"), ("bob", "r-bob")):
            await server.store.add_response(
                "alice",
                NewResponse(
                    cid,
                    "Hello.",
                    "model",
                    human.response_id,
                    author="" if who == "alice" else who,
                    request_id=request_id,
                ),
            )
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = chat_pb2_grpc.ChatStub(channel)

            async def resume(key: str, request_id: str) -> grpc.StatusCode:
                call = stub.ResumeResponse(
                    chat_pb2.ResumeResponseRequest(request_id=request_id),
                    metadata=(("authorization", f"Bearer {key}"),),
                )
                try:
                    async for _ in call:
                        pass
                except grpc.aio.AioRpcError as error:
                    return error.code()
                return grpc.StatusCode.OK

            assert await resume("key-alice", "r-alice") == grpc.StatusCode.OK
            assert await resume("key-bob", "r-alice") == grpc.StatusCode.NOT_FOUND
            assert await resume("key-bob", "r-bob") == grpc.StatusCode.OK, "a writer's own"
            assert await resume("key-alice", "r-bob") == grpc.StatusCode.NOT_FOUND
            await server.store.revoke_access("alice", cid, "bob")
            assert await resume("key-bob", "r-bob") == grpc.StatusCode.NOT_FOUND, "revoked"
    finally:
        await server.stop()
