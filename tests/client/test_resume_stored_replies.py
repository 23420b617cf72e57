"""A reply stored whole before its caller read the tail comes whole from the store (issue 17).

Two real servers on one store (a SQLite file, then a PostgreSQL database), the SDK's
connection through a real TCP proxy. The proxy holds what the server sends after a few
tokens, so the reply finishes and is stored while its tail is still on its way; then the
server that ran it stops (or its resume grace ends) and the connection is cut with the
tail. The SDK's resume finds no reply running anywhere, and the store's copy is resent:
`add_response` returns the whole reply as if nothing had happened. Waits are on the
server's own reply task, never on the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from grove_explorer.client import Client
from grove_explorer.client.response import Response
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.client.replicas import counted_server, started_pair
from tests.client.resume_helpers import SLOW, only_reply_task
from tests.tcp_proxy import TcpProxy

server_config = both_stores.server_config
make_server = both_stores.make_server

HELD_AFTER = 5
"""Texts the client reads before the proxy holds the rest of the reply."""


async def the_stored_reply(client: Client, conversation_id: str) -> Response:
    """The one model reply the conversation holds, as the store has it."""
    loaded = await client.grok.get_conversation(conversation_id)
    (stored,) = [r for r in loaded.responses if r.sender == "model"]
    return stored


async def test_a_reply_finished_on_a_stopped_replica_comes_whole_from_the_other(
    make_server: Callable[..., GroveServer],
) -> None:
    async with started_pair(make_server, SLOW, SLOW) as (a, count_a, b, count_b):
        async with TcpProxy(a.port or 0) as proxy, Client(api_host=proxy.address) as client:
            conversation = client.grok.create_conversation()
            stream, future = conversation.add_response("Tell me a long story about oaks.")
            texts = [await anext(stream) for _ in range(HELD_AFTER)]
            proxy.hold()  # the tail stays on its way
            _, task = only_reply_task(a)
            await asyncio.wait_for(asyncio.shield(task), timeout=30)  # stored whole on A
            await a.stop()  # A is gone; its log with it
            proxy.target_port = b.port or 0
            assert proxy.cut() >= 1, "the stream ran through the proxy"
            texts.extend([text async for text in stream])
            reply = await future
            stored = await the_stored_reply(client, conversation.conversation_id)
        assert count_a.calls["AddResponse"] == 1 and count_b.calls["ResumeResponse"] >= 1
        assert "".join(texts) == reply.message, "no token twice, none missing"
        assert len(texts) == reply.token_count and not reply.partial
        assert reply.response_id == stored.response_id and reply.message == stored.message
        assert reply.finish_reason == stored.finish_reason  # "stop", or "length" (random seed)


async def test_a_reply_finished_after_the_grace_on_the_same_replica_comes_from_the_store(
    make_server: Callable[..., GroveServer],
) -> None:
    # No grace: the reply's log is forgotten as soon as it ends.
    server, counter = counted_server(make_server, **SLOW, resume_grace_seconds=0.0)
    await server.start()
    try:
        async with TcpProxy(server.port or 0) as proxy, Client(api_host=proxy.address) as client:
            conversation = client.grok.create_conversation()
            stream, future = conversation.add_response("Tell me about maples, at length.")
            texts = [await anext(stream) for _ in range(HELD_AFTER)]
            proxy.hold()
            request_id, task = only_reply_task(server)
            await asyncio.wait_for(asyncio.shield(task), timeout=30)
            replies = server.servicer.resumable._replies
            for _ in range(100):  # its forgetting is the next turn of the loop
                if not replies:
                    break
                await asyncio.sleep(0)
            assert not replies, "the log is gone: only the store has the reply"
            assert proxy.cut() >= 1
            texts.extend([text async for text in stream])
            reply = await future
            stored = await the_stored_reply(client, conversation.conversation_id)
        assert counter.calls["ResumeResponse"] >= 1
        assert "".join(texts) == reply.message and not reply.partial
        assert reply.response_id == stored.response_id and reply.message == stored.message
        assert request_id
    finally:
        await server.stop()
