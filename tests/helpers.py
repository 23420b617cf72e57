"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from grove_explorer.server.auth import hash_key

if TYPE_CHECKING:
    from grove_explorer.client.service import ConversationService

TEAM_KEYS = {hash_key(f"key-{name}"): name for name in ("alice", "bob", "carol")}
"""The keys of a team server's users: "key-alice" is alice's, and so on."""


async def collect(token_stream: AsyncIterator[str]) -> str:
    """Reads a token stream to its end and returns the text."""
    return "".join([token async for token in token_stream])


class Recorder(list[object]):
    """A service's events, and a way to wait for one (no sleeps)."""

    def __init__(self, service: ConversationService) -> None:
        super().__init__()
        self._changed = asyncio.Event()
        service.subscribe(self._add)

    def _add(self, event: object) -> None:
        self.append(event)
        self._changed.set()

    async def until(self, done: Callable[[list[object]], bool]) -> None:
        """Waits (30 s at most) until `done` holds for the events seen so far."""
        async with asyncio.timeout(30):
            while not done(self):
                self._changed.clear()
                await self._changed.wait()
