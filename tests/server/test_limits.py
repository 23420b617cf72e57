"""Server-side limits: a cap on concurrent streams answers RESOURCE_EXHAUSTED beyond it."""

from __future__ import annotations

import pytest

from grove_explorer.client import Client, ResourceExhaustedError, SamplingParams
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect


async def test_streams_beyond_the_cap_are_refused_and_nothing_is_stored(make_server) -> None:
    server: GroveServer = make_server(
        max_streams=2, token_delay_ms=5.0, offline_min_reply_tokens=300
    )
    await server.start()
    try:
        async with Client(api_host=server.address) as sdk:
            long = SamplingParams(max_tokens=300)
            running = []
            for topic in ("oaks", "rivers"):
                conversation = sdk.grok.create_conversation()
                stream, future = conversation.add_response(f"About {topic}", sampling=long)
                await anext(stream)  # the stream is now counted by the server
                running.append((conversation, stream, future))
            assert server.servicer.active_stream_count == 2

            third = sdk.grok.create_conversation()
            stream, future = third.add_response("One too many")
            with pytest.raises(ResourceExhaustedError, match="--max-streams 2"):
                await collect(stream)
            with pytest.raises(ResourceExhaustedError):
                await future
            await third.load()
            assert third.responses == [], "a refused request stores nothing"

            conversation, stream, future = running[0]
            await stream.stop()
            await collect(stream)
            assert (await future).partial
            stream, future = third.add_response("Now there is room")
            await collect(stream)
            assert (await future).message
            for _, stream, _ in running[1:]:
                await stream.aclose()
    finally:
        await server.stop()
