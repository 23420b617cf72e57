"""A reply stored whole just before its replica was killed comes whole from the other.

Two `grove serve` processes on one PostgreSQL database (issue 17, what bench.scale found):
the SDK's connection to replica A runs through a real TCP proxy that holds what A sends
after a few tokens. The reply finishes and is stored on A — seen through B by watching
the conversation (PostgreSQL's LISTEN/NOTIFY across replicas), not by a clock — then A
gets SIGKILL and the connection is cut with the tail. The SDK resumes on B, which runs no
such reply: it resends the stored one, and `add_response` returns the whole reply.
"""

from __future__ import annotations

import asyncio

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.watching import ReplyFinished, WatchStarted
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.store.location import PostgresUrl
from tests.tcp_proxy import TcpProxy

SLOW = ("--token-delay-ms", "10", "--offline-min-tokens", "150", "--checkpoint-ms", "100")


def port_of(process: ServerProcess) -> int:
    return int(process.address.rsplit(":", 1)[1])


async def test_a_reply_stored_before_its_replica_was_killed_comes_whole_from_the_other(
    postgres_url: PostgresUrl,
) -> None:
    doomed = await ServerProcess(postgres_url, SLOW).start()
    survivor = await ServerProcess(postgres_url, SLOW).start()
    try:
        async with (
            TcpProxy(port_of(doomed)) as proxy,
            Client(api_host=proxy.address) as sdk,
            Client(api_host=survivor.address) as onlooker,
        ):
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
            cid = conversation.conversation_id
            events = aiter((await onlooker.grok.get_conversation(cid)).watch())
            assert isinstance(await anext(events), WatchStarted)

            stream, future = conversation.add_response(
                "Tell me about oak trees.", sampling=SamplingParams(max_tokens=150)
            )
            texts = [await anext(stream) for _ in range(5)]
            proxy.hold()  # the tail stays on its way
            async with asyncio.timeout(60):  # a bound for failure, not a timing figure
                async for event in events:
                    if isinstance(event, ReplyFinished) and event.node is not None:
                        break  # stored whole on A, seen through B
            doomed.kill()  # SIGKILL: A's log of the reply dies with it
            await doomed.wait()
            proxy.target_port = port_of(survivor)
            assert proxy.cut() >= 1, "the stream ran through the proxy"
            texts.extend([text async for text in stream])
            reply = await future
            stored = (await onlooker.grok.get_conversation(cid)).responses[-1]
        assert "".join(texts) == reply.message, "no token twice, none missing"
        assert stored.sender == "model" and not stored.partial
        assert reply.response_id == stored.response_id and reply.message == stored.message
        assert not reply.partial and reply.finish_reason == stored.finish_reason
    finally:
        for process in (doomed, survivor):
            if process.returncode is None:
                await process.stop()
