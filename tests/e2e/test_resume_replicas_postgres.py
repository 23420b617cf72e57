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

from grove_explorer.client import SamplingParams
from grove_explorer.client.watching import ReplyFinished
from grove_explorer.server.store.location import PostgresUrl
from tests.e2e.replica_pair import replica_pair

SLOW = ("--token-delay-ms", "10", "--offline-min-tokens", "150", "--checkpoint-ms", "100")


async def test_a_reply_stored_before_its_replica_was_killed_comes_whole_from_the_other(
    postgres_url: PostgresUrl,
) -> None:
    async with replica_pair(postgres_url, SLOW) as pair:
        stream, future = pair.conversation.add_response(
            "Tell me about oak trees.", sampling=SamplingParams(max_tokens=150)
        )
        texts = [await anext(stream) for _ in range(5)]
        pair.proxy.hold()  # the tail stays on its way
        async with asyncio.timeout(60):  # a bound for failure, not a timing figure
            async for event in pair.watch:
                if isinstance(event, ReplyFinished) and event.node is not None:
                    break  # stored whole on A, seen through B
        pair.first.kill()  # SIGKILL: A's log of the reply dies with it
        await pair.first.wait()
        pair.turn_to_second()
        texts.extend([text async for text in stream])
        reply = await future
        cid = pair.conversation.conversation_id
        stored = (await pair.onlooker.grok.get_conversation(cid)).responses[-1]
    assert "".join(texts) == reply.message, "no token twice, none missing"
    assert stored.sender == "model" and not stored.partial
    assert reply.response_id == stored.response_id and reply.message == stored.message
    assert not reply.partial and reply.finish_reason == stored.finish_reason
