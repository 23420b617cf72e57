"""Asking the other replicas which replies they sample, on a real PostgreSQL feed (issue 17).

What must hold: the asking watch gets its answered marker once every replica it had heard
from has answered, and behind the catch-up of the replies they sample (so a reply named
by a catch-up is always seen first); a replica heard only after the ask is waited for
too; with no other replica the marker comes once the asker has listened a heartbeat
period (a replica just started has heard from nobody yet); a replica that dies without
answering is forgotten and no longer waited for. And on a real
server: a resume of a reply no replica samples (it ended with nothing stored, its human
message kept) ends NOT_FOUND "unknown" from the answers, not from the 10 s bound (set
far beyond the test's time here).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.live import LivePublisher, Subscription
from grove_explorer.server.live.asks import is_answered_marker
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.live.publishing import LiveReply
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.feed_replies import FeedReplies
from grove_explorer.server.servicer.resuming import RESUME_KEY
from grove_explorer.server.store.location import PostgresUrl
from tests.server.test_postgres_feed import die_silently
from tests.server.test_resume_from_store import USER, question

CID = "conversation-1"
WAIT_S = 30.0


async def feed_on(url: PostgresUrl, replies: list[LiveReply] | None = None) -> PostgresFeed:
    """A started feed (a replica) sampling `replies` in CID, with a short heartbeat."""
    feed = PostgresFeed(url, refresh_seconds=0.2)
    sampled = replies if replies is not None else []
    await feed.start(lambda cid: list(sampled) if cid == CID else [])
    return feed


async def heard(asker: PostgresFeed, *others: PostgresFeed) -> None:
    """Returns once `asker` has heard from each of `others` (their hello or heartbeat)."""
    wanted = {other.origin for other in others}
    await asyncio.wait_for(asker.until(lambda f: wanted <= f.replicas_heard), WAIT_S)


async def until_marker(subscription: Subscription, nonce: str) -> list[chat_pb2.ConversationEvent]:
    """The events the asking watch gets before its answered marker."""
    before = []
    async with asyncio.timeout(WAIT_S):
        async for event in subscription:
            if is_answered_marker(event, nonce):
                return before
            before.append(event)
    raise AssertionError("the watch ended without its marker")


@pytest.fixture
async def feeds(postgres_url: PostgresUrl) -> AsyncIterator[list[PostgresFeed]]:
    started: list[PostgresFeed] = []
    yield started
    for feed in started:
        await feed.close()


async def test_the_marker_comes_once_every_replica_answered(
    postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    asker = await feed_on(postgres_url)
    quiet = [await feed_on(postgres_url), await feed_on(postgres_url)]
    feeds += [asker, *quiet]
    await heard(asker, *quiet)
    subscription = asker.subscribe(CID)
    nonce = asker.ask_samplers(subscription, CID)
    assert await until_marker(subscription, nonce) == [], "nobody samples anything there"
    assert len(asker._asks) == 0


async def test_a_sampled_reply_is_caught_up_before_the_marker(
    postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    asker = await feed_on(postgres_url)
    pieces = ["Once", " upon"]
    sampling_feed_replies: list[LiveReply] = []
    sampler = await feed_on(postgres_url, sampling_feed_replies)
    feeds += [asker, sampler]
    live = LivePublisher(sampler).reply(CID, USER, "r-1", "s-1", "parent", "offline", pieces)
    live.start()
    live.sent([SampledToken("Once", -0.1), SampledToken(" upon", -0.2)], 9)
    sampling_feed_replies.append(live)
    await heard(asker, sampler)

    subscription = asker.subscribe(CID)
    nonce = asker.ask_samplers(subscription, CID)
    before = await until_marker(subscription, nonce)
    kinds = [event.WhichOneof("event") for event in before]
    assert kinds[0] == "reply_started" and before[0].reply_started.stream_id == "s-1"
    assert "".join(e.reply_text.text for e in before if e.HasField("reply_text")) == "Once upon"


async def test_with_no_other_replica_the_marker_comes_after_a_heartbeat_period(
    postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    alone = await feed_on(postgres_url)
    feeds.append(alone)
    subscription = alone.subscribe(CID)
    nonce = alone.ask_samplers(subscription, CID)
    assert alone.replicas_heard == frozenset()
    assert await until_marker(subscription, nonce) == []
    assert alone.knows_every_replica


async def test_a_replica_that_dies_unanswering_is_no_longer_waited_for(
    postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    asker = await feed_on(postgres_url)
    doomed = await feed_on(postgres_url)
    feeds += [asker, doomed]
    await heard(asker, doomed)
    await die_silently(doomed, postgres_url)  # before the ask reaches it
    subscription = asker.subscribe(CID)
    nonce = asker.ask_samplers(subscription, CID)
    assert len(asker._asks) == 1, "waiting for the silent replica"
    assert await until_marker(subscription, nonce) == []  # once it is taken for dead
    assert doomed.origin not in asker.replicas_heard


# -- on a real server --------------------------------------------------------------------


@pytest.fixture
def server_config(postgres_url: PostgresUrl) -> ServerConfig:
    return ServerConfig(host="127.0.0.1", port=0, db=postgres_url)


async def test_a_resume_of_a_reply_no_replica_samples_ends_not_found_from_the_answers(
    server: GroveServer, postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    for source in server.servicer.resumable.sources:
        if isinstance(source, FeedReplies):
            source._unheard = 3600.0  # only the answers can end it within the test
    other = await feed_on(postgres_url)  # another replica, sampling nothing
    feeds.append(other)
    feed = server.servicer.feed
    assert isinstance(feed, PostgresFeed)
    await heard(feed, other)
    _, human = await question(server.store, "r-gone")  # its reply ended, nothing kept

    async with grpc.aio.insecure_channel(server.address) as channel:
        call = chat_pb2_grpc.ChatStub(channel).ResumeResponse(
            chat_pb2.ResumeResponseRequest(request_id="r-gone")
        )
        async with asyncio.timeout(WAIT_S):
            first = await call.read()
            assert isinstance(first, chat_pb2.AddResponseResponse)
            assert first.user_response.response_id == human.response_id
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert (RESUME_KEY, "unknown") in tuple(info.value.trailing_metadata() or ())


async def test_a_replica_just_started_waits_for_one_it_has_not_heard_yet(
    postgres_url: PostgresUrl, feeds: list[PostgresFeed]
) -> None:
    sampling_replies: list[LiveReply] = []
    sampler = await feed_on(postgres_url, sampling_replies)
    feeds.append(sampler)
    live = LivePublisher(sampler).reply(CID, USER, "r-1", "s-1", "parent", "offline", ["Hi"])
    live.start()
    live.sent([SampledToken("Hi", -0.1)], 2)
    sampling_replies.append(live)
    newcomer = await feed_on(postgres_url)  # asks before it has heard from anyone
    feeds.append(newcomer)
    subscription = newcomer.subscribe(CID)
    nonce = newcomer.ask_samplers(subscription, CID)
    before = await until_marker(subscription, nonce)
    assert [e.WhichOneof("event") for e in before][:2] == ["reply_started", "reply_text"]
    assert sampler.origin in newcomer.replicas_heard
