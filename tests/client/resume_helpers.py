"""Helpers of the resuming tests: slow replies, the server's reply tasks, cut streams.

Waits are on the server's own reply task, never on the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from grove_explorer.client import Client
from grove_explorer.client.conversation import Conversation, TokenStream
from grove_explorer.client.response import Response
from grove_explorer.server.runtime import GroveServer
from tests.client.replicas import CallCounter
from tests.tcp_proxy import TcpProxy

SLOW = {"token_delay_ms": 15.0, "offline_min_reply_tokens": 80}
"""An offline reply of 80+ tokens, 15 ms apart: long enough to cut mid-reply."""
LONG = {"token_delay_ms": 60.0, "offline_min_reply_tokens": 200}
"""A reply of 200 tokens (the offline default cap) over 12 s: it outlasts the SDK's resume
attempts (MAX_RESUME_ATTEMPTS lost connections, backing off: ~4.5 s)."""


def reply_task(server: GroveServer, request_id: str, user: str = "local") -> asyncio.Task[None]:
    """The server's task sampling the resumable reply `request_id`."""
    reply = server.servicer.resumable._replies[(user, request_id)]
    assert reply.task is not None
    return reply.task


def only_reply_task(server: GroveServer) -> tuple[str, asyncio.Task[None]]:
    """The request id and task of the one resumable reply the server runs (or keeps)."""
    ((user, request_id),) = server.servicer.resumable._replies
    return request_id, reply_task(server, request_id, user)


async def read_until_cut(stream: AsyncIterator[str], proxy: TcpProxy, after: int) -> list[str]:
    """Reads a token stream to its end, cutting the proxy's connections after `after`."""
    texts: list[str] = []
    async for text in stream:
        texts.append(text)
        if len(texts) == after:
            assert proxy.cut() >= 1, "the stream ran through the proxy"
    return texts


async def stream_landing_on(
    counter: CallCounter, client: Client, conversation: Conversation, message: str
) -> tuple[TokenStream, asyncio.Future[Response], str]:
    """A reply started on the replica `counter` counts, with its first text read.

    The client's calls go round robin over its replicas: a stream that lands elsewhere is
    dropped and one other call moves the turn on, until one lands there (10 tries).
    """
    for _ in range(10):
        stream, future = conversation.add_response(message)
        first = await anext(stream)
        if counter.calls["AddResponse"]:
            return stream, future, first
        await stream.aclose()
        await client.grok.list_models()  # calls alternate: the next goes to the other
    raise AssertionError("no stream landed on the replica")
