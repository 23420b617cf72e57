"""A reply whose server was killed resumes as the partial reply its checkpoint kept.

The server process is killed with SIGKILL mid-reply and started again on the same port
before the client reads on (the SDK resumes only when its consumer asks for more). The new
process runs no such reply, but it recovered the checkpoint, which keeps the request id,
as a partial reply: the resume finds it in the store, and the stream ends with it
(partial, "interrupted") instead of StreamNotResumableError (issue 17).
"""

from __future__ import annotations

from pathlib import Path

from grove_explorer.client import Client, SamplingParams
from grove_explorer.server.launcher import ServerProcess, free_port

SLOW = ("--token-delay-ms", "10", "--offline-min-tokens", "5000", "--checkpoint-ms", "50")


async def test_a_killed_servers_reply_resumes_as_the_partial_reply_its_checkpoint_kept(
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
            async for text in stream:
                received.append(text)
            reply = await future
            reloaded = await sdk.grok.get_conversation(conversation.conversation_id)
        kept = reloaded.responses[-1]
        assert kept.sender == "model" and kept.partial and kept.finish_reason == "interrupted"
        assert reply.response_id == kept.response_id and reply.message == kept.message
        assert reply.partial and reply.finish_reason == "interrupted"
        text = "".join(received)
        # Both are the start of one sampled text: the checkpoint may hold less or more.
        assert text.startswith(kept.message) or kept.message.startswith(text)
        assert kept.message, "the checkpoint kept text"
    finally:
        for server in (process, restarted):
            if server is not None and server.returncode is None:
                server.kill()
                await server.wait()
