"""Resumable streams (issue 17): a reply survives its caller's lost connection.

Real servers on loopback; the connection is cut by a real TCP proxy between the SDK and
the server (tests/tcp_proxy.py), as a network failure or a restarting balancer would.
Waits are on the server's own reply task, never on the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.client.errors import StreamNotResumableError
from grove_explorer.client.resuming import token_count
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.keys import hash_key
from grove_explorer.server.launcher import free_port
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer.reply_log import ReplyLog
from tests.client.replicas import CallCounter, counted_server, started_pair
from tests.client.resume_helpers import (
    LONG,
    SLOW,
    only_reply_task,
    read_until_cut,
    reply_task,
    stream_landing_on,
)
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def slow(
    make_server: Callable[..., GroveServer],
) -> AsyncIterator[tuple[GroveServer, CallCounter]]:
    """A server whose replies take over a second, counting its calls."""
    server, counter = counted_server(make_server, **SLOW)
    await server.start()
    try:
        yield server, counter
    finally:
        await server.stop()


async def test_a_cut_connection_resumes_with_exactly_the_rest(
    slow: tuple[GroveServer, CallCounter],
) -> None:
    server, counter = slow
    async with TcpProxy(server.port or 0) as proxy, Client(api_host=proxy.address) as client:
        conversation = client.grok.create_conversation()
        stream, future = conversation.add_response("Tell me a long story about oaks.")
        texts = await read_until_cut(stream, proxy, after=5)
        reply = await future
        assert proxy.connections >= 2, "the SDK reconnected"
        assert counter.calls["ResumeResponse"] >= 1 and counter.calls["AddResponse"] == 1
        assert "".join(texts) == reply.message, "no token twice, none missing"
        assert len(texts) == reply.token_count and not reply.partial
        loaded = await client.grok.get_conversation(conversation.conversation_id)
        models = [r for r in loaded.responses if r.sender == "model"]
        assert [r.response_id for r in models] == [reply.response_id], "sampled once"


async def test_a_deliberate_cancel_stops_at_once_and_keeps_the_partial_text(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server(**SLOW, resume_grace_seconds=3600.0)
    await server.start()
    try:
        async with Client(api_host=server.address) as client:
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            stream = conversation.sample("Count the rings of an oak.", parent_response_id=None)
            texts: list[str] = []
            async for event in stream:
                texts.extend(getattr(event, "texts", []))
                if len(texts) >= 3:
                    break
            await stream.aclose()
            task = reply_task(server, stream.request_id)
            # With an hour of grace, only the deliberate cancel can end the reply.
            await asyncio.wait_for(asyncio.shield(task), timeout=30)
            loaded = await client.grok.get_conversation(conversation.conversation_id)
        (kept,) = [r for r in loaded.responses if r.sender == "model"]
        assert kept.partial and kept.finish_reason == "cancelled"
        assert kept.message.startswith("".join(texts))
    finally:
        await server.stop()


async def test_nobody_resuming_within_the_grace_keeps_the_reply_partial(
    make_server: Callable[..., GroveServer],
) -> None:
    server = make_server(**SLOW, resume_grace_seconds=0.2)
    await server.start()
    try:
        async with Client(api_host=server.address) as client:
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            async with grpc.aio.insecure_channel(server.address) as channel:
                stub = chat_pb2_grpc.ChatStub(channel)
                call = stub.AddResponse(
                    chat_pb2.AddResponseRequest(
                        conversation_id=conversation.conversation_id,
                        message="A long tale, please.",
                        request_id="gone-away",
                        resumable=True,
                    )
                )
                received, tokens = "", 0
                async for msg in call:
                    if token_count(msg):
                        received += msg.token.token.final_logit.string_token
                        tokens += token_count(msg)
                        break
            # Gone without a word: the reply samples on for the grace, then ends partial.
            await asyncio.wait_for(asyncio.shield(reply_task(server, "gone-away")), timeout=30)
            loaded = await client.grok.get_conversation(conversation.conversation_id)
            (kept,) = [r for r in loaded.responses if r.sender == "model"]
            assert kept.partial and kept.finish_reason == "cancelled"
            assert kept.message.startswith(received) and len(kept.message) > len(received)
            # A resume after the grace (while the log is kept) gets the rest and the reply.
            rest: list[str] = []
            last = None
            async for msg in client.stub.ResumeResponse(
                chat_pb2.ResumeResponseRequest(request_id="gone-away", after_tokens=tokens)
            ):
                if token_count(msg):
                    rest.append(msg.token.token.final_logit.string_token)
                last = msg
            assert last is not None and last.model_response.response_id == kept.response_id
            assert received + "".join(rest) == kept.message
    finally:
        await server.stop()


async def test_only_the_caller_can_resume_or_cancel_its_reply(
    make_server: Callable[..., GroveServer],
) -> None:
    keys = {hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"}
    server = make_server(**SLOW, api_keys=keys)
    await server.start()
    try:
        async with Client(api_key="key-alice", api_host=server.address) as alice:
            conversation = alice.grok.create_conversation()
            await conversation.ensure_created()
            stream = conversation.sample("Oaks.", parent_response_id=None)
            events = aiter(stream)
            await anext(events)  # running now
            channel = grpc.aio.insecure_channel(server.address)
            bob = chat_pb2_grpc.ChatStub(channel)
            auth = (("authorization", "Bearer key-bob"),)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for _ in bob.ResumeResponse(
                    chat_pb2.ResumeResponseRequest(request_id=stream.request_id), metadata=auth
                ):
                    pass
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            assert ("grove-resume", "unknown") in tuple(info.value.trailing_metadata() or ())
            cancelled = await bob.CancelResponse(
                chat_pb2.CancelResponseRequest(request_id=stream.request_id), metadata=auth
            )
            assert not cancelled.cancelled, "another user's reply is not theirs to cancel"
            await channel.close()
            async for _ in events:
                pass
            reply = await stream.future
            assert not reply.partial, "alice's reply ran to its end"
    finally:
        await server.stop()


async def test_a_restarted_server_cannot_resume_and_says_so(
    make_server: Callable[..., GroveServer],
) -> None:
    first = make_server(**SLOW)
    await first.start()
    second = make_server(**SLOW)  # the "restarted" server: same database, new process state
    await second.start()
    try:
        async with TcpProxy(first.port or 0) as proxy, Client(api_host=proxy.address) as client:
            conversation = client.grok.create_conversation()
            stream, future = conversation.add_response("Tell me about maples.")
            texts: list[str] = []
            with pytest.raises(StreamNotResumableError, match="no reachable server runs the reply"):
                async for text in stream:
                    texts.append(text)
                    if len(texts) == 3:
                        proxy.target_port = second.port or 0
                        proxy.cut()
            assert future.done() and isinstance(future.exception(), StreamNotResumableError)
    finally:
        await first.stop()
        await second.stop()


async def test_a_stream_resumes_on_the_replica_that_runs_it(
    make_server: Callable[..., GroveServer],
) -> None:
    async with started_pair(make_server, SLOW, SLOW) as (a, count_a, b, count_b):
        # B first: a resume asks B (which answers NOT_FOUND), then A through the proxy.
        async with (
            TcpProxy(a.port or 0) as proxy,
            Client(api_host=[b.address, proxy.address]) as client,
        ):
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            stream, future, first = await stream_landing_on(
                count_a, client, conversation, "Oaks and maples, at length."
            )
            assert count_a.calls["AddResponse"] == 1
            texts = [first, *await read_until_cut(stream, proxy, after=2)]
            reply = await future
        assert "".join(texts) == reply.message and not reply.partial
        assert count_b.calls["ResumeResponse"] >= 1 and count_a.calls["ResumeResponse"] >= 1


async def test_stop_reaches_the_replica_that_runs_the_stream(
    make_server: Callable[..., GroveServer],
) -> None:
    async with started_pair(make_server, SLOW, SLOW) as (a, count_a, b, count_b):
        async with Client(api_host=[a.address, b.address]) as client:
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            for _ in range(4):  # calls alternate over the replicas: streams land on both
                stream = conversation.sample("Oaks.", parent_response_id=None)
                events = aiter(stream)
                await anext(events)
                assert await stream.stop(), "the replica running it stopped it"
                async for _ in events:
                    pass
                reply = await stream.future
                assert reply.partial and reply.finish_reason == "stopped"
        assert count_a.calls["AddResponse"] and count_b.calls["AddResponse"]


async def test_a_stream_whose_replica_is_out_of_reach_says_it_cannot_resume(
    make_server: Callable[..., GroveServer],
) -> None:
    # A's reply outlasts the SDK's attempts: B never has it stored.
    async with started_pair(make_server, LONG, SLOW) as (a, count_a, b, count_b):
        async with (
            TcpProxy(a.port or 0) as proxy,
            Client(api_host=[proxy.address, b.address]) as client,
        ):
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            stream, _, _ = await stream_landing_on(
                count_a, client, conversation, "Oaks and maples, at length."
            )
            proxy.target_port = free_port()  # A is out of reach from now on
            proxy.cut()
            with pytest.raises(StreamNotResumableError, match="no reachable server"):
                async for _ in stream:
                    pass
        # Asked again after each retry of A: it might have stored the reply meanwhile.
        assert count_b.calls["ResumeResponse"] >= 2


class Probe:
    """A resume source after the store's: asked only when nothing is stored; says so."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()

    async def find(self, user_id: str, request_id: str) -> ReplyLog | None:
        self.asked.set()
        return None


async def test_a_replica_that_said_unknown_resends_the_reply_once_it_is_stored(
    make_server: Callable[..., GroveServer],
) -> None:
    probe = Probe()
    async with started_pair(make_server, LONG, SLOW) as (a, count_a, b, count_b):
        b.servicer.resumable.sources.append(probe)
        async with (
            TcpProxy(a.port or 0) as proxy,
            Client(api_host=[proxy.address, b.address]) as client,
        ):
            conversation = client.grok.create_conversation()
            await conversation.ensure_created()
            stream, future, first = await stream_landing_on(
                count_a, client, conversation, "Oaks and maples, at length."
            )
            proxy.target_port = free_port()  # A is out of reach from now on
            proxy.cut()
            rest = asyncio.create_task(texts_of(stream))  # the SDK resumes as it reads
            await asyncio.wait_for(probe.asked.wait(), timeout=30)  # B: "unknown"
            # A, still running the reply, stops it and stores it (as a replica that dies
            # leaves its checkpoint, recovered by another later).
            request_id, task = only_reply_task(a)
            async with grpc.aio.insecure_channel(a.address) as channel:
                stopped = await chat_pb2_grpc.ChatStub(channel).StopResponse(
                    chat_pb2.StopResponseRequest(request_id=request_id)
                )
            assert stopped.stopped
            await asyncio.wait_for(asyncio.shield(task), timeout=30)
            texts = [first, *await asyncio.wait_for(rest, timeout=30)]
            reply = await future
            loaded = await client.grok.get_conversation(conversation.conversation_id)
        # (Streams that landed on B before are in the conversation too, cancelled.)
        (stored,) = [r for r in loaded.responses if r.response_id == reply.response_id]
        assert reply.message == stored.message and stored.partial
        assert reply.partial and reply.finish_reason == "stopped"
        assert "".join(texts) == reply.message, "no token twice, none missing"
        assert count_b.calls["ResumeResponse"] >= 2, "B was asked again"


async def texts_of(stream: AsyncIterator[str]) -> list[str]:
    return [text async for text in stream]
