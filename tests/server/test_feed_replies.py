"""FeedReplies: a reply sampled elsewhere, relayed from the change feed (issue 17).

A real server on loopback, on each store; the other replica is played by publishing on
the server's own feed what a sampling replica publishes (its start, its text with token
lengths, its end once stored), and the resume is a raw ResumeResponse call, so each
message on the wire is checked: relayed tokens carry no logprob, the stored tokens
continue the count, and text whose token split is unknown is never guessed at.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.convert import response_to_proto
from grove_explorer.server.live import LivePublisher
from grove_explorer.server.live.elsewhere import RepliesElsewhere
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.feed_replies import FeedReplies
from grove_explorer.server.store import NewResponse, ResponseRecord
from tests import both_stores
from tests.server.test_resume_from_store import TOKENS, USER, question, stored_reply, token_rows

server_config = both_stores.server_config
make_server = both_stores.make_server


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[chat_pb2_grpc.ChatStub]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield chat_pb2_grpc.ChatStub(channel)


async def rest_of(
    call: grpc.aio.UnaryStreamCall[chat_pb2.ResumeResponseRequest, chat_pb2.AddResponseResponse],
) -> list[chat_pb2.AddResponseResponse]:
    """The call's messages to its end (read one by one: it was read so already)."""
    messages = []
    while (message := await call.read()) is not grpc.aio.EOF:
        assert isinstance(message, chat_pb2.AddResponseResponse)
        messages.append(message)
    return messages


PLAYED_REPLICA = "played-replica00"  # an origin of _ORIGIN_CHARS characters


def elsewhere(server: GroveServer) -> RepliesElsewhere:
    """The index of a FeedReplies added to the server (events are given to it by hand).

    On PostgreSQL the played replica is also one the server has heard from: a relay asks
    every replica heard from to answer behind its catch-up (server/live/asks.py) and
    gives up on the reply once all have; the played one never answers, so a relay waits
    for the events the test publishes, as it would for a real replica's catch-up.
    """
    feed = server.servicer.feed
    if isinstance(feed, PostgresFeed):
        feed._seen[PLAYED_REPLICA] = time.monotonic()
    index = RepliesElsewhere()
    server.servicer.resumable.sources.append(FeedReplies(server.store, server.servicer.feed, index))
    return index


def started(cid: str, request_id: str, human: ResponseRecord) -> chat_pb2.ConversationEvent:
    event = chat_pb2.ConversationEvent(conversation_id=cid, actor=USER, request_id=request_id)
    event.reply_started.stream_id = "s-" + request_id
    event.reply_started.parent_response_id = human.response_id
    return event


async def store_reply(server: GroveServer, cid: str, human: ResponseRecord, rid: str) -> str:
    return (await stored_reply(server.store, cid, human, rid)).response_id


async def test_text_with_token_lengths_is_relayed_then_the_stored_tokens_follow(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-live")
    elsewhere(server).observe(started(cid, "r-live", human), "A")
    pieces: list[str] = []
    live = LivePublisher(server.servicer.feed).reply(
        cid, USER, "r-live", "s-r-live", human.response_id, "offline", pieces
    )
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-live", after_tokens=1))
    messages = [await call.read()]  # the human message: the relay follows the feed now
    assert messages[0].user_response == response_to_proto(human)
    # As the sampling replica does (on PostgreSQL the server's own relay, which found
    # the request by its human message, learns the reply's stream from it).
    LivePublisher(server.servicer.feed).publish_event(cid, started(cid, "r-live", human))
    pieces.extend(["Once", " upon"])
    live.sent([SampledToken("Once", None), SampledToken(" upon", -0.25)], 9)
    relayed = await call.read()
    assert isinstance(relayed, chat_pb2.AddResponseResponse)
    assert token_rows([relayed]) == [(" upon", None, ())], "after the caller's 1, no logprob"

    live.stored_id = await store_reply(server, cid, human, "r-live")
    live.finish()
    messages.append(relayed)
    messages.extend(await rest_of(call))
    assert token_rows(messages) == [(" upon", None, ()), *TOKENS[2:]], "the count goes on"
    assert messages[-1].model_response.response_id == live.stored_id


async def test_text_whose_token_split_is_unknown_waits_for_the_stored_tokens(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-cut")
    elsewhere(server).observe(started(cid, "r-cut", human), "A")
    publisher = LivePublisher(server.servicer.feed)
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-cut", after_tokens=1))
    assert (await call.read()).HasField("user_response")
    text = chat_pb2.ConversationEvent(actor=USER, request_id="r-cut")
    text.reply_text.stream_id = "s-r-cut"
    text.reply_text.text = "Once upon"  # no token lengths: an older replica, a huge token
    publisher.publish_event(cid, text)
    finished = chat_pb2.ConversationEvent(actor=USER, request_id="r-cut")
    finished.reply_finished.stream_id = "s-r-cut"
    finished.reply_finished.response.response_id = await store_reply(server, cid, human, "r-cut")
    publisher.publish_event(cid, finished)
    rest = await rest_of(call)
    assert token_rows(rest) == list(TOKENS[1:]), "the stored tokens, none guessed"
    assert rest[-1].model_response.response_id == finished.reply_finished.response.response_id


async def test_a_relay_of_a_conversation_deleted_meanwhile_is_not_found(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, human = await question(server.store, "r-gone")
    elsewhere(server).observe(started(cid, "r-gone", human), "A")
    call = stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-gone"))
    assert (await call.read()).HasField("user_response")
    LivePublisher(server.servicer.feed).conversation_deleted(cid, USER)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "was deleted while its reply was relayed" in (info.value.details() or "")


async def test_another_users_request_is_not_relayed(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid = (await server.store.create_conversation("someone-else")).conversation_id
    human = await server.store.add_response(
        "someone-else", NewResponse(cid, "Hi", "human", None, request_id="r-theirs")
    )
    theirs = started(cid, "r-theirs", human)
    theirs.actor = "someone-else"
    elsewhere(server).observe(theirs, "A")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ResumeResponse(chat_pb2.ResumeResponseRequest(request_id="r-theirs")).read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_watchers_never_see_the_servers_reply_followed_events(
    server: GroveServer, stub: chat_pb2_grpc.ChatStub
) -> None:
    cid, _ = await question(server.store, "r-held")
    watch = stub.WatchConversation(chat_pb2.WatchConversationRequest(conversation_id=cid))
    first = await watch.read()
    assert isinstance(first, chat_pb2.ConversationEvent) and first.HasField("started")
    publisher = LivePublisher(server.servicer.feed)
    held = chat_pb2.ConversationEvent(actor=USER, request_id="r-held")
    held.reply_followed.stream_id = "s-r-held"
    publisher.publish_event(cid, held)  # what a relaying server publishes
    publisher.conversation_changed(cid, USER)
    after = await watch.read()
    assert isinstance(after, chat_pb2.ConversationEvent)
    assert after.HasField("conversation_changed"), "the hold is not a watcher's event"
    watch.cancel()
