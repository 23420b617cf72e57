"""Keep my place: the server stores each user's current leaf per conversation.

GetConversation reports it; SelectResponse moves it; an AddResponse stream moves it to its
reply only when asked (`select_reply`) and only if the user did not select another
response meanwhile; replies sampled elsewhere never move it; the row goes with its
conversation. All against a real server on each store (SQLite file, PostgreSQL); the
store's part alone is tests/server/test_store_contract_leaves.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.server.store_rows import rows

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server


@pytest.fixture
async def slow_server(make_server) -> AsyncIterator[GroveServer]:
    """A server whose offline model is slow enough to act while a reply streams."""
    running = make_server(token_delay_ms=20.0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def stub(slow_server: GroveServer) -> AsyncIterator[Any]:
    sdk = Client(api_host=slow_server.address)
    try:
        yield sdk.stub
    finally:
        await sdk.close()


async def _conversation(stub: Any) -> str:
    created = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
    assert not created.HasField("leaf_response_id"), "a new conversation has no place yet"
    return created.conversation_id


async def _get(stub: Any, cid: str) -> chat_pb2.Conversation:
    return await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))


async def _reply(
    stub: Any, cid: str, parent: str = "", message: str = "", *, select: bool, tokens: int = 3
) -> tuple[str, str]:
    """Runs one AddResponse to the end; returns (human id or "", model id)."""
    request = chat_pb2.AddResponseRequest(
        conversation_id=cid, message=message, parent_response_id=parent, select_reply=select
    )
    request.sampling_params.max_tokens = tokens
    streamed = [m async for m in stub.AddResponse(request)]
    human = streamed[0].user_response.response_id if message else ""
    return human, streamed[-1].model_response.response_id


async def _select(stub: Any, cid: str, response_id: str) -> str:
    reply = await stub.SelectResponse(
        chat_pb2.SelectResponseRequest(conversation_id=cid, response_id=response_id)
    )
    return reply.leaf_response_id


async def test_select_response_is_what_get_conversation_reports(stub: Any) -> None:
    cid = await _conversation(stub)
    human, first = await _reply(stub, cid, message="hello", select=False)
    assert not (await _get(stub, cid)).HasField("leaf_response_id"), "no choice made yet"
    _, newer = await _reply(stub, cid, human, select=False)
    assert await _select(stub, cid, first) == first
    view = await _get(stub, cid)
    assert view.leaf_response_id == first, "the chosen reply, not the newest one"
    assert view.responses[-1].response_id == newer
    # "" is a choice too: no leaf (a new root), reported as set but empty.
    assert await _select(stub, cid, "") == ""
    view = await _get(stub, cid)
    assert view.HasField("leaf_response_id") and view.leaf_response_id == ""


async def test_a_followed_reply_moves_the_leaf_and_a_background_one_does_not(stub: Any) -> None:
    cid = await _conversation(stub)
    human, reply = await _reply(stub, cid, message="hi", select=True)
    assert (await _get(stub, cid)).leaf_response_id == reply
    # Background samples (another client, `grove sample`, Compare) leave the place alone.
    _, sibling = await _reply(stub, cid, human, select=False)
    _, child = await _reply(stub, cid, reply, message="more", select=False)
    view = await _get(stub, cid)
    assert view.leaf_response_id == reply
    assert view.responses[-1].response_id == child and sibling != reply
    # A followed resample of the reply moves the place to the new sibling.
    _, resampled = await _reply(stub, cid, human, select=True)
    assert (await _get(stub, cid)).leaf_response_id == resampled


async def test_selecting_elsewhere_while_a_followed_reply_streams_wins(stub: Any) -> None:
    cid = await _conversation(stub)
    human, reply = await _reply(stub, cid, message="hi", select=True)
    request = chat_pb2.AddResponseRequest(
        conversation_id=cid, parent_response_id=human, select_reply=True
    )
    request.sampling_params.max_tokens = 40
    call = stub.AddResponse(request)
    async for message in call:
        if message.WhichOneof("response") == "token":
            break  # sampling runs: the place moved to the parent, where the user waits
    assert (await _get(stub, cid)).leaf_response_id == human
    await _select(stub, cid, reply)  # the user goes back to the older reply meanwhile
    last = [m async for m in call][-1]
    assert last.model_response.response_id not in ("", reply)
    assert (await _get(stub, cid)).leaf_response_id == reply, "the user's choice stands"


async def test_a_stopped_followed_reply_is_the_place(stub: Any) -> None:
    cid = await _conversation(stub)
    request = chat_pb2.AddResponseRequest(
        conversation_id=cid, message="go on", select_reply=True, request_id="f" * 32
    )
    request.sampling_params.max_tokens = 200
    call = stub.AddResponse(request)
    human = ""
    async for message in call:
        if message.WhichOneof("response") == "user_response":
            human = message.user_response.response_id
        if message.WhichOneof("response") == "token":
            break
    # While the reply streams, the place is the user's message (a crash would leave it
    # there, or on the reply recovered from the stream's checkpoint).
    assert human and (await _get(stub, cid)).leaf_response_id == human
    stopped = await stub.StopResponse(chat_pb2.StopResponseRequest(request_id="f" * 32))
    assert stopped.stopped
    last = [m async for m in call][-1].model_response
    assert last.partial
    assert (await _get(stub, cid)).leaf_response_id == last.response_id


async def test_selecting_a_response_of_another_conversation_is_refused(stub: Any) -> None:
    a = await _conversation(stub)
    b = await _conversation(stub)
    _, in_a = await _reply(stub, a, message="hi", select=True)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _select(stub, b, in_a)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not (await _get(stub, b)).HasField("leaf_response_id"), "nothing was stored"
    assert (await _get(stub, a)).leaf_response_id == in_a


async def test_the_place_goes_with_its_conversation(stub: Any, slow_server: GroveServer) -> None:
    cid = await _conversation(stub)
    keep = await _conversation(stub)
    await _reply(stub, cid, message="hi", select=True)
    _, kept = await _reply(stub, keep, message="hi", select=True)
    await stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=cid))
    assert rows(slow_server.config.db, "SELECT conversation_id, response_id FROM leaves") == [
        (keep, kept)
    ]


async def test_a_followed_stream_with_a_message_takes_the_place_from_elsewhere(
    stub: Any,
) -> None:
    """The start of a select_reply stream and its human message are one write: the place
    that was chosen elsewhere ends on the message while the reply streams, then on it."""
    cid = await _conversation(stub)
    human, reply = await _reply(stub, cid, message="hi", select=True)
    _, sibling = await _reply(stub, cid, human, select=False)
    assert await _select(stub, cid, sibling) == sibling
    request = chat_pb2.AddResponseRequest(
        conversation_id=cid, parent_response_id=reply, message="more", select_reply=True
    )
    request.sampling_params.max_tokens = 40
    call = stub.AddResponse(request)
    second = ""
    async for message in call:
        if message.WhichOneof("response") == "user_response":
            second = message.user_response.response_id
        if message.WhichOneof("response") == "token":
            break
    assert second and (await _get(stub, cid)).leaf_response_id == second
    last = [m async for m in call][-1].model_response
    assert (await _get(stub, cid)).leaf_response_id == last.response_id != ""


async def test_a_followed_stream_with_a_bad_parent_leaves_the_place(stub: Any) -> None:
    a = await _conversation(stub)
    b = await _conversation(stub)
    _, in_a = await _reply(stub, a, message="hi", select=True)
    _, in_b = await _reply(stub, b, message="hi", select=True)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _reply(stub, b, in_a, message="wrong tree", select=True)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await _get(stub, b)).leaf_response_id == in_b, "nothing was stored"
    assert (await _get(stub, a)).leaf_response_id == in_a
