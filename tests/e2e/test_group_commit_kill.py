"""Group commit and kill -9: what was acknowledged is on disk.

Simultaneous AddResponse starts store their human messages in shared transactions (group
commit, server/store/sqlite/grouping.py). A start is acknowledged (its `user_response`
sent) only after the COMMIT holding its message returned, so a server killed right after
every acknowledgement arrived has every acknowledged message in its database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.streams import UserResponseEvent
from grove_explorer.server.launcher import ServerProcess


async def test_acknowledged_starts_survive_a_kill(tmp_path: Path) -> None:
    """Every human message whose acknowledgement (user_response) arrived is on disk after
    SIGKILL: a group is acknowledged only after its COMMIT returned."""
    db = tmp_path / "grove.sqlite3"
    process = ServerProcess(db, ("--token-delay-ms", "50", "--offline-min-tokens", "500"))
    await process.start()
    acknowledged: list[str] = []
    try:
        async with Client(api_host=process.address) as sdk:
            conversations = [sdk.grok.create_conversation() for _ in range(40)]
            for conversation in conversations:
                await conversation.ensure_created()
            all_acknowledged = asyncio.Event()

            async def start(index: int) -> None:
                stream = conversations[index].sample(
                    f"message {index}",
                    parent_response_id=None,
                    sampling=SamplingParams(max_tokens=400),
                )
                async for event in stream:
                    if isinstance(event, UserResponseEvent):
                        acknowledged.append(event.response.response_id)
                        if len(acknowledged) == len(conversations):
                            all_acknowledged.set()

            tasks = [asyncio.create_task(start(i)) for i in range(len(conversations))]
            await all_acknowledged.wait()
            process.kill()  # SIGKILL: nothing is flushed by a handler
            await process.wait()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await process.stop()

    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT response_id FROM responses")}
    assert len(acknowledged) == 40 and set(acknowledged) <= stored
