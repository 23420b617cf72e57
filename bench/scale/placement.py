"""Which replica runs each stream, and when the killed one's replies were recovered.

Both are read from the team's PostgreSQL database, the one place every replica writes
to: a running reply's checkpoint names its writer ("host:pid:instance",
server/owners.py), and a recovered reply is a stored partial model response. The reads
are small (a few hundred rows every `POLL_S`) beside the load they observe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from typing import Any

from bench.scale.settings import POLL_S


def owner_pid(owner: str) -> int | None:
    """The process id in an owner id "host:pid:instance" (None if it has none)."""
    parts = owner.split(":")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


class Placement:
    """Polls the checkpoints table: conversation id → pid of the replica running it."""

    def __init__(self, url: str) -> None:
        self._url = url
        # Every stream seen running so far, and those running at the last read.
        self.where: dict[str, int] = {}
        self.running: dict[str, int] = {}
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    async def __aenter__(self) -> Placement:
        import psycopg

        self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self._conn.close()

    async def read(self) -> None:
        """One read of the checkpoints: every stream seen running so far is kept."""
        cursor = await self._conn.execute("SELECT conversation_id, owner FROM checkpoints")
        running: dict[str, int] = {}
        for conversation_id, owner in await cursor.fetchall():
            pid = owner_pid(owner)
            if pid is not None:
                running[conversation_id] = pid
                self.where.setdefault(conversation_id, pid)
        self.running = running
        self.changed.set()

    def start(self) -> None:
        """Reads every `POLL_S` in the background until `stop()`."""
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        """Stops the background reads (one last read first)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.read()

    async def _poll(self) -> None:
        while True:
            await self.read()
            await asyncio.sleep(POLL_S)

    async def until_running(self, count: int, deadline: float) -> int:
        """Waits until `count` streams have been seen, or `deadline` (loop time); seen."""
        loop = asyncio.get_running_loop()
        while len(self.where) < count and loop.time() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self.changed.wait()
        return len(self.where)

    def running_on(self, pid: int) -> set[str]:
        """The conversations of the streams running (checkpointed) on `pid` at the last read."""
        return {cid for cid, where in self.running.items() if where == pid}


async def until_recovered(
    url: str, conversations: Collection[str], since: float, limit: float
) -> tuple[int, float | None]:
    """Polls (its own connection) until each of `conversations` holds a model reply.

    The conversations of the streams a killed replica was running: each gets the partial
    reply the survivor makes of its checkpoint, or already holds the whole reply when the
    stream finished between the last read of the checkpoints and the kill. Returns how
    many hold one, and the perf_counter seconds from `since` until the last one was seen
    (None if some were still missing `limit` seconds after `since`).
    """
    import psycopg

    ids = list(conversations)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            cursor = await conn.execute(
                "SELECT count(DISTINCT conversation_id) FROM responses"
                " WHERE sender = 'model' AND conversation_id = ANY(%s)",
                (ids,),
            )
            row = await cursor.fetchone()
            found = int(row[0]) if row else 0
            now = time.perf_counter()
            if found >= len(ids):
                return found, now - since
            if now - since > limit:
                return found, None
            await asyncio.sleep(POLL_S)
