"""FeedReplies, how a relay starts and ends (issue 17): on each store, a real server.

As in test_feed_replies.py, the other replica is played by publishing on the server's own
feed what a sampling replica publishes, and the resume is a raw ResumeResponse call:
- a reply whose start this server never heard is found by its request's human message
  and named by the sampling replica's catch-up (its start, then its text from offset 0);
- a reply its server ended with nothing stored ends the relay at once, with the status of
  a resume of an unknown reply (NOT_FOUND, "grove-resume: unknown");
- a caller whose share was revoked during the relay is not sent the stored reply.
"""

from __future__ import annotations

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.live import LivePublisher
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.resuming import RESUME_KEY
from grove_explorer.server.store import NewResponse
from tests import both_stores
from tests.server.test_feed_replies import elsewhere, rest_of, started, store_reply, stub
from tests.server.test_resume_from_store import TOKENS, USER, question, token_rows

server_config = both_stores.server_config
make_server = both_stores.make_server
__all__ = ["stub"]  # the fixture, shared


async def test_a_reply_never_heard_starting_is_found_by_its_human_message(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-late")
    elsewhere(server)  # its index never heard "r-late" start
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-late", after_tokens=1))
    first = await call.read()
    assert isinstance(first, chat_pb2.AddResponseResponse)
    assert first.user_response == response_to_proto(human), "found by its human message"
    # The sampling replica's catch-up: the start, then the text from offset 0.
    publisher = LivePublisher(server.servicer.feed)
    publisher.publish_event(cid, started(cid, "r-late", human))
    pieces = ["Once", " upon"]
    live = publisher.reply(cid, USER, "r-late", "s-r-late", human.response_id, "offline", pieces)
    live.sent([SampledToken("Once", None), SampledToken(" upon", -0.25)], 9)
    relayed = await call.read()
    assert isinstance(relayed, chat_pb2.AddResponseResponse)
    assert token_rows([relayed]) == [(" upon", None, ())], "after the caller's 1, no logprob"
    live.stored_id = await store_reply(server, cid, human, "r-late")
    live.finish()
    rest = await rest_of(call)
    assert token_rows([relayed, *rest]) == [(" upon", None, ()), *TOKENS[2:]]
    assert rest[-1].model_response.response_id == live.stored_id


async def test_a_resample_without_a_human_message_stays_unknown(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    await question(server.store, "r-asked")
    elsewhere(server)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-resample")).read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert (RESUME_KEY, "unknown") in tuple(info.value.trailing_metadata() or ())


async def test_a_reply_ended_with_nothing_stored_ends_the_relay_not_found(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-cancelled")
    elsewhere(server).observe(started(cid, "r-cancelled", human), "A")
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-cancelled"))
    assert (await call.read()).HasField("user_response")
    finished = chat_pb2.ConversationEvent(actor=USER, request_id="r-cancelled")
    finished.reply_finished.stream_id = "s-r-cancelled"  # no response: nothing stored
    LivePublisher(server.servicer.feed).publish_event(cid, finished)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert (RESUME_KEY, "unknown") in tuple(info.value.trailing_metadata() or ())
    assert "r-cancelled" in (info.value.details() or "")


async def test_a_writer_revoked_during_the_relay_is_not_sent_the_reply(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    store = server.store
    cid = (await store.create_conversation("owner")).conversation_id
    await store.grant_access("owner", cid, USER, "writer")
    human = await store.add_response(
        "owner",
        NewResponse(cid, "Tell me a story.", "human", None, request_id="r-shared", author=USER),
    )
    elsewhere(server).observe(started(cid, "r-shared", human), "A")
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-shared"))
    assert (await call.read()).HasField("user_response"), "a writer's relay starts"
    assert await store.revoke_access("owner", cid, USER)
    reply = await store.add_response(
        "owner",
        NewResponse(
            cid,
            "Once upon",
            "model",
            human.response_id,
            request_id="r-shared",
            author=USER,
            tokens=TOKENS[:2],
        ),
    )
    finished = chat_pb2.ConversationEvent(actor=USER, request_id="r-shared")
    finished.reply_finished.stream_id = "s-r-shared"
    finished.reply_finished.response.response_id = reply.response_id
    LivePublisher(server.servicer.feed).publish_event(cid, finished)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "does not exist" in (info.value.details() or "")
