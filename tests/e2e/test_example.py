"""The seed's `simple_grok_chat.py`, with only its import changed, runs against Grove."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from grove_explorer.server.runtime import GroveServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simple_grok_chat.py"


async def test_seed_example_runs(server: GroveServer) -> None:
    env = dict(os.environ, XAI_API_HOST=server.address)
    env.pop("XAI_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=EXAMPLE.parents[1],
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(b"Tell me about gardens and trees\nAnd rivers?\n\n")
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert text.count("Grok: ") == 2
    assert "Title: Gardens Trees" in text
    assert text.count("Generating title..") == 1
    # The replies were stored on the server.
    conversations = await _list(server)
    assert len(conversations) == 1 and conversations[0].title == "Gardens Trees"
    assert conversations[0].response_count == 4


async def _list(server: GroveServer):
    from grove_explorer.client import Client

    async with Client(api_host=server.address) as sdk:
        return await sdk.grok.list_conversations()


PARALLEL = EXAMPLE.with_name("parallel_samples.py")


async def test_parallel_samples_example_runs(server: GroveServer) -> None:
    """The README's parallel-sampling example: three streams at once, and the seed's flow
    refusing a second concurrent resample with ConcurrentSamplingError."""
    env = dict(os.environ, XAI_API_HOST=server.address)
    env.pop("XAI_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PARALLEL),
        "Tell me about oak trees",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=PARALLEL.parents[1],
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert "as documented: This conversation is already sampling a response" in text
    for seed in (1, 2, 3):
        assert f"seed {seed}: " in text
    assert "4 replies to the question" in text
    conversations = await _list(server)
    assert len(conversations) == 1
