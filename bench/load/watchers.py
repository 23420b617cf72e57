"""`--watchers`: one WatchConversation beside every stream (live shared trees, issue 17).

A second client (its own connection, so the streams are not its own and their text is
sent to it) watches each stream's conversation from before the streams start. Figures:
the watch events received, the gap between a watcher's text events, and the replies
whose watched text (concatenated) differs from the reply the sampler received — which
must be none.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from grove_explorer.client import Client, Conversation
from grove_explorer.client.watching import ReplyFinished, ReplyText, WatchStarted

SETUP_TIMEOUT_S = 60.0
FINISH_TIMEOUT_S = 30.0


@dataclass
class WatchFigures:
    """What the watchers of one client process saw."""

    watchers: int = 0
    events: int = 0
    gaps: list[float] = field(default_factory=list)
    # Replies whose watched text differs from the sampled one, and watchers that never
    # saw their reply end (within FINISH_TIMEOUT_S of the streams' end).
    mismatches: int = 0
    unfinished: int = 0
    errors: int = 0


class _Watcher:
    def __init__(self, conversation: Conversation, figures: WatchFigures) -> None:
        self.conversation = conversation
        self.figures = figures
        self.text: list[str] = []
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        last: float | None = None
        try:
            async for event in self.conversation.watch():
                self.figures.events += 1
                if isinstance(event, WatchStarted):
                    self.started.set()
                elif isinstance(event, ReplyText):
                    now = time.perf_counter()
                    if last is not None:
                        self.figures.gaps.append(now - last)
                    last = now
                    self.text.append(event.text)
                elif isinstance(event, ReplyFinished):
                    self.finished.set()
                    return
        except Exception:
            self.figures.errors += 1
        finally:
            self.started.set()


class Watchers:
    """One watcher per conversation, on a client of its own."""

    def __init__(self, address: str) -> None:
        self._client = Client(api_host=address)
        self.figures = WatchFigures()
        self._watchers: dict[str, _Watcher] = {}

    async def start(self, conversation_ids: list[str]) -> None:
        """Starts every watch and waits until each has begun (set-up, not measured)."""
        gate = asyncio.Semaphore(32)

        async def one(cid: str) -> None:
            async with gate:
                handle = await self._client.grok.get_conversation(cid)
                watcher = _Watcher(handle, self.figures)
                self._watchers[cid] = watcher
                await watcher.started.wait()

        async with asyncio.timeout(SETUP_TIMEOUT_S):
            await asyncio.gather(*(one(cid) for cid in conversation_ids))
        self.figures.watchers = len(self._watchers)

    async def finish(self, replies: dict[str, str]) -> WatchFigures:
        """Waits (bounded) for every watcher's reply to end; compares texts; closes."""
        waits = [w.finished.wait() for w in self._watchers.values()]
        with_timeout = asyncio.wait_for(asyncio.gather(*waits), FINISH_TIMEOUT_S)
        with contextlib.suppress(TimeoutError):  # counted below as reply end not seen
            await with_timeout
        for cid, watcher in self._watchers.items():
            if not watcher.finished.is_set():
                self.figures.unfinished += 1
            elif "".join(watcher.text) != replies.get(cid):
                self.figures.mismatches += 1
            watcher.task.cancel()
        await asyncio.gather(*(w.task for w in self._watchers.values()), return_exceptions=True)
        await self._client.close()
        return self.figures
