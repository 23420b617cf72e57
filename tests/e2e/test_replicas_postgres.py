"""Two `grove serve` replicas on one PostgreSQL database, as a team server runs them.

What one replica stores the other reads at once, and a replica killed with SIGKILL in the
middle of a reply leaves no hole: the other replica's orphan sweep (every few seconds)
turns the dead one's last checkpoint into a partial reply, readable through it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from grove_explorer.client import Client, SamplingParams, ServerUnavailableError
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.store.location import PostgresUrl
from tests.helpers import collect

SLOW = ("--token-delay-ms", "10", "--offline-min-tokens", "5000", "--checkpoint-ms", "100")


async def test_a_killed_replicas_reply_becomes_partial_through_the_other(
    postgres_url: PostgresUrl,
) -> None:
    doomed = await ServerProcess(postgres_url, SLOW).start()
    survivor = await ServerProcess(postgres_url).start()
    try:
        async with Client(api_host=doomed.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "Tell me about oak trees.", sampling=SamplingParams(max_tokens=20)
            )
            await collect(stream)
            answered = await future
            async with Client(api_host=survivor.address) as other:
                seen = await other.grok.get_conversation(conversation.conversation_id)
                assert [r.response_id for r in seen.responses][-1] == answered.response_id

            stream, future = conversation.add_response(
                "Now a very long story.", sampling=SamplingParams(max_tokens=4000)
            )
            received: list[str] = []
            started = 0.0
            with pytest.raises(ServerUnavailableError):
                async for text in stream:
                    received.append(text)
                    if len(received) == 10:
                        started = time.monotonic()
                    if started and time.monotonic() - started > 0.5 and doomed.returncode is None:
                        doomed.kill()  # SIGKILL: nothing of the dying replica runs
                        await doomed.wait()
            with pytest.raises(ServerUnavailableError):
                await future
        async with Client(api_host=survivor.address) as other:
            partial = None
            async with asyncio.timeout(30):  # a bound for failure, not a timing figure
                while partial is None:
                    reloaded = await other.grok.get_conversation(conversation.conversation_id)
                    last = reloaded.responses[-1]
                    if last.sender == "model" and last.partial:
                        partial = last
                    else:
                        await asyncio.sleep(0.2)  # polls another process's database
        assert partial.message, "the checkpointed text was kept"
        assert "".join(received).startswith(partial.message)
    finally:
        for process in (doomed, survivor):
            if process.returncode is None:
                await process.stop()
