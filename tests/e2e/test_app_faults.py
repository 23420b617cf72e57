"""The explorer when its server is killed mid-stream and comes back: a notice, then F5.

A real server process is killed with SIGKILL while a reply streams; the app says the
server is unavailable and offers the reload; once a new server runs on the same port and
database, F5 shows the interrupted reply as partial, up to its last checkpoint.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from grove_explorer.server.launcher import ServerProcess, free_port
from tests.app_helpers import explorer, send, settle, until

SIZE = (120, 36)


async def test_killed_server_is_reported_and_f5_reloads_the_kept_partial(tmp_path: Path) -> None:
    db = tmp_path / "grove.sqlite3"
    port = str(free_port())
    # 200 tokens (the default max) at 20 ms each last 4 s; checkpoints every 50 ms.
    slow = ("--port", port, "--token-delay-ms", "20", "--offline-min-tokens", "5000")
    slow += ("--checkpoint-ms", "50")
    process = await ServerProcess(db, slow).start()
    restarted = None
    try:
        async with explorer(process.address, size=SIZE) as (app, pilot, screen):
            await send(pilot, "Tell me a very long story about rivers")
            await until(pilot, lambda: len(screen.thread.live_text) > 150, "a partial")
            streamed = screen.thread.live_text
            process.kill()
            await process.wait()
            await until(pilot, lambda: not screen.composer.busy, "the stream to fail")
            await settle(pilot)
            notices = [(str(n.title), str(n.message)) for n in app._notifications]
            assert any(
                title == "Server unavailable" and "Press F5 to reload" in message
                for title, message in notices
            ), notices
            assert screen.thread.live_response_id is None, "nothing left looking live"

            restarted = await ServerProcess(db, ("--port", port)).start()
            forest = None
            async with asyncio.timeout(20):
                while True:  # the channel reconnects with backoff: retry F5 until it works
                    await pilot.press("f5")
                    await settle(pilot)
                    forest = screen.forest
                    path = forest.current_path if forest is not None else []
                    if len(path) == 2 and not path[-1].streaming:
                        break
            human, partial = forest.current_path
            assert human.message == "Tell me a very long story about rivers"
            assert partial.partial and partial.message
            # Both are prefixes of what the server sampled: the checkpoint and the screen.
            kept = partial.message
            assert streamed.startswith(kept) or kept.startswith(streamed)
            assert any("Reloaded" in str(n.message) for n in app._notifications)
    finally:
        for running in (process, restarted):
            if running is not None and running.returncode is None:
                running.kill()
                await running.wait()
