"""A reply whose server was killed cannot be resumed: the SDK says so, the checkpoint stays.

The server process is killed with SIGKILL mid-reply and started again on the same port
before the client reads on (the SDK resumes only when its consumer asks for more). The new
process runs no such reply: the stream raises StreamNotResumableError, and the reply is
what the restarted server recovered from the checkpoint, partial.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.errors import StreamNotResumableError
from grove_explorer.server.launcher import ServerProcess, free_port

SLOW = ("--token-delay-ms", "10", "--offline-min-tokens", "5000", "--checkpoint-ms", "50")


async def test_a_killed_servers_reply_is_not_resumable_and_its_checkpoint_is_kept(
    tmp_path: Path,
) -> None:
    db = tmp_path / "grove.sqlite3"
    port = free_port()
    process = await ServerProcess(db, SLOW, port=port).start()
    restarted: ServerProcess | None = None
    try:
        async with Client(api_host=process.address) as sdk:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(
                "A very long story.", sampling=SamplingParams(max_tokens=4000)
            )
            received = [await anext(stream) for _ in range(40)]
            process.kill()  # SIGKILL: only the checkpoints are left
            await process.wait()
            restarted = await ServerProcess(db, SLOW, port=port).start()
            with pytest.raises(StreamNotResumableError, match="marked partial"):
                async for text in stream:
                    received.append(text)
            assert isinstance(future.exception(), StreamNotResumableError)
            reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
        kept = reloaded.responses[-1]
        assert kept.sender == "model" and kept.partial and kept.finish_reason == "interrupted"
        assert "".join(received).startswith(kept.message), "nothing unstreamed is invented"
    finally:
        for server in (process, restarted):
            if server is not None and server.returncode is None:
                server.kill()
                await server.wait()
