"""Bad input gets a gRPC status with a sentence, and the SDK a typed exception."""

from __future__ import annotations

import grpc
import pytest

from grove_explorer.client import (
    Client,
    ConcurrentSamplingError,
    ConversationDeletedError,
    ConversationNotLoadedError,
    InvalidArgumentError,
    NotFoundError,
    SamplingParams,
    ServerInternalError,
    ServerUnavailableError,
)
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect


@pytest.fixture
async def stub(server: GroveServer):
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


async def _status(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        result = await call if not hasattr(call, "__aiter__") else [m async for m in call]
        del result
    return info.value


async def test_unknown_conversation_is_not_found_on_every_rpc(stub) -> None:
    missing = "0" * 32
    calls = [
        stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=missing)),
        stub.UpdateConversation(
            chat_pb2.UpdateConversationRequest(conversation_id=missing, title="x")
        ),
        stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=missing)),
        stub.GenerateTitle(chat_pb2.GenerateTitleRequest(conversation_id=missing)),
        stub.AddResponse(chat_pb2.AddResponseRequest(conversation_id=missing, message="hi")),
        stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(conversation_id=missing, message="hi")
        ),
        stub.ShareConversation(
            chat_pb2.ShareConversationRequest(conversation_id=missing, response_id="r")
        ),
    ]
    for call in calls:
        error = await _status(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert missing in error.details() and "does not exist" in error.details()


async def test_missing_conversation_id_is_invalid(stub) -> None:
    error = await _status(stub.GetConversation(chat_pb2.GetConversationRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "conversation_id is required" in error.details()


async def test_parent_from_another_conversation_is_invalid(stub) -> None:
    a = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    b = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    messages = [
        m
        async for m in stub.AddResponse(
            chat_pb2.AddResponseRequest(conversation_id=a.conversation_id, message="in a")
        )
    ]
    a_response = messages[0].user_response.response_id
    for call in [
        stub.AddResponse(
            chat_pb2.AddResponseRequest(
                conversation_id=b.conversation_id, message="x", parent_response_id=a_response
            )
        ),
        stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=b.conversation_id, message="x", parent_response_id=a_response
            )
        ),
        stub.ShareConversation(
            chat_pb2.ShareConversationRequest(
                conversation_id=b.conversation_id, response_id=a_response
            )
        ),
        stub.GenerateTitle(
            chat_pb2.GenerateTitleRequest(
                conversation_id=b.conversation_id, leaf_response_id=a_response
            )
        ),
    ]:
        error = await _status(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "is not in conversation" in error.details()
    # Nothing was stored in b.
    loaded = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=b.conversation_id)
    )
    assert list(loaded.responses) == []


async def test_oversized_and_blank_messages_are_refused(stub, server: GroveServer) -> None:
    conv = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    huge = "x" * (server.config.max_message_bytes + 1)
    error = await _status(
        stub.AddResponse(
            chat_pb2.AddResponseRequest(conversation_id=conv.conversation_id, message=huge)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit is 1048576 bytes" in error.details()
    error = await _status(
        stub.AddResponse(
            chat_pb2.AddResponseRequest(conversation_id=conv.conversation_id, message="  \n\t ")
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "whitespace" in error.details()
    error = await _status(
        stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(conversation_id=conv.conversation_id, message="")
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    loaded = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=conv.conversation_id)
    )
    assert list(loaded.responses) == [], "nothing is stored half-way"


async def test_bad_sampling_params_model_and_prompt(stub) -> None:
    conv = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    cid = conv.conversation_id
    cases = [
        (
            chat_pb2.AddResponseRequest(conversation_id=cid, message="hi", model_name="gpt-9"),
            "Unknown model",
        ),
        (
            chat_pb2.AddResponseRequest(
                conversation_id=cid, message="hi", system_prompt_name="evil"
            ),
            "Unknown system prompt",
        ),
        (
            chat_pb2.AddResponseRequest(conversation_id=cid, message="hi", top_logprobs=-1),
            "top_logprobs",
        ),
    ]
    bad_temperature = chat_pb2.AddResponseRequest(conversation_id=cid, message="hi")
    bad_temperature.sampling_params.temperature = 9.0
    cases.append((bad_temperature, "temperature"))
    bad_tokens = chat_pb2.AddResponseRequest(conversation_id=cid, message="hi")
    bad_tokens.sampling_params.max_tokens = 0
    cases.append((bad_tokens, "max_tokens"))
    for request, words in cases:
        error = await _status(stub.AddResponse(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, words
        assert words in error.details()
    loaded = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert list(loaded.responses) == []


async def test_title_too_long(stub, server: GroveServer) -> None:
    conv = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    error = await _status(
        stub.UpdateConversation(
            chat_pb2.UpdateConversationRequest(
                conversation_id=conv.conversation_id,
                title="t" * (server.config.max_title_chars + 1),
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "characters" in error.details()


async def test_sdk_raises_typed_errors(client: Client) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        await client.grok.get_conversation("f" * 32)
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("x" * (2 * 1024 * 1024))
    with pytest.raises(InvalidArgumentError, match="limit"):
        await collect(stream)
    with pytest.raises(InvalidArgumentError):
        await future
    assert not conversation.is_sampling


async def test_deleted_conversation(client: Client) -> None:
    conversation = client.grok.create_conversation()
    stream, future = conversation.add_response("to be deleted")
    await collect(stream)
    await future
    cid = conversation.conversation_id
    await conversation.delete()
    with pytest.raises(ConversationDeletedError):
        conversation.add_response("again")
    with pytest.raises(NotFoundError):
        await client.grok.get_conversation(cid)
    stale = client.grok.create_conversation()
    stale._conversation_id = cid  # another handle on the same (deleted) id
    with pytest.raises(NotFoundError):
        await stale.load()


async def test_properties_before_load_raise_clearly(client: Client) -> None:
    """Seed defect 4: no AttributeError on None."""
    unloaded = client.grok.create_conversation()
    for action in (
        lambda: unloaded.title,
        lambda: unloaded.conversation_id,
        lambda: unloaded.starred,
    ):
        with pytest.raises(ConversationNotLoadedError):
            action()
    with pytest.raises(ConversationNotLoadedError):
        await unloaded.set_title("x")
    with pytest.raises(ConversationNotLoadedError):
        await unloaded.generate_title()
    with pytest.raises(ConversationNotLoadedError):
        await unloaded.star()
    from grove_explorer.client import Conversation

    by_id = Conversation(client.stub, "", False, "a" * 32)
    with pytest.raises(ConversationNotLoadedError, match="load"):
        await by_id.set_title("x")


async def test_second_concurrent_add_response_is_refused(make_server) -> None:
    """Seed defect 5: only one add_response stream per Conversation."""
    running = make_server(token_delay_ms=10.0)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response("first")
            first_token = await anext(stream)
            assert first_token
            with pytest.raises(ConcurrentSamplingError):
                conversation.add_response("second")
            # Two created before either starts: the second fails when it starts.
            await stream.stop()
            await collect(stream)
            await future
            a, fa = conversation.add_response("a", sampling=SamplingParams(max_tokens=50))
            b, fb = conversation.add_response("b")
            await anext(a)
            with pytest.raises(ConcurrentSamplingError):
                await anext(b)
            with pytest.raises(ConcurrentSamplingError):
                await fb
            await a.stop()
            await collect(a)
            assert (await fa).parent_response.message == "a"
    finally:
        await running.stop()


class _LateFailureChat(chat_pb2_grpc.ChatServicer):
    """A real gRPC servicer that fails *after* sending the final model response."""

    async def CreateConversation(self, request, context):
        return chat_pb2.Conversation(conversation_id="c1")

    async def GetConversation(self, request, context):
        return chat_pb2.Conversation(conversation_id="c1")

    async def AddResponse(self, request, context):
        await context.write(
            chat_pb2.AddResponseResponse(
                model_response=chat_pb2.Response(response_id="m1", sender="model", message="ok")
            )
        )
        await context.abort(grpc.StatusCode.INTERNAL, "late failure")


async def test_error_after_model_response_does_not_break_future() -> None:
    """Seed defect 3: set_exception on a done future raised InvalidStateError."""
    server = grpc.aio.server()
    chat_pb2_grpc.add_ChatServicer_to_server(_LateFailureChat(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with Client(api_host=f"127.0.0.1:{port}") as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response("hello")
            # The late error reaches the stream's reader (not InvalidStateError) ...
            with pytest.raises(ServerInternalError, match="late failure"):
                await collect(stream)
            # ... while the future keeps the reply that arrived before it.
            reply = await future
            assert reply.response_id == "m1" and reply.message == "ok"
            assert conversation.leaf_response_id == "m1"
    finally:
        await server.stop(0)


async def test_server_killed_mid_stream_raises_unavailable(tmp_path) -> None:
    """kill -9 of a real server process mid-stream: the SDK raises a clear error."""
    import signal

    from grove_explorer.server.launcher import ServerProcess

    db = tmp_path / "grove.sqlite3"
    process = await ServerProcess(db, ("--token-delay-ms", "20")).start()
    try:
        async with Client(api_host=process.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "talk", sampling=SamplingParams(max_tokens=500)
            )
            await anext(stream)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            with pytest.raises(ServerUnavailableError):
                await collect(stream)
            with pytest.raises(ServerUnavailableError):
                await future
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
