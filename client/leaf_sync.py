"""Saving a conversation's leaf on the server in the background, newest choice first.

`Response.select()` keeps the seed's synchronous signature, so the choice cannot be sent
before it returns. `LeafSaver` sends it from a background task instead: one
`SelectResponse` at a time, always the leaf of the moment it is sent, so a burst of moves
(a user holding `j`) costs a call or two, never one per move, and the last choice is the
one that sticks. Whoever must know the server has it awaits `wait()`
(`Conversation.leaf_saved()`), which raises the failure of the last attempt; failures are
also logged when they happen, so a script that never waits still hears of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

log = logging.getLogger(__name__)


class _Unknown:
    """What the server holds is not known (never loaded, or a call failed)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class LeafSaver:
    """Keeps the server's leaf of one conversation equal to the local one, in the background.

    `wanted()` reads the local leaf (None: no leaf); `send(leaf)` stores it on the server.
    `known` is what the server holds as far as this client knows, so nothing is sent when
    they agree already (a reload, or a reply the server followed itself).
    """

    def __init__(
        self,
        wanted: Callable[[], str | None],
        send: Callable[[str | None], Awaitable[None]],
    ) -> None:
        self._wanted = wanted
        self._send = send
        self.known: str | _Unknown | None = UNKNOWN
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._deferred = False
        self._before_follow: str | _Unknown | None = UNKNOWN
        self.sent = 0
        """How many choices were stored (sampling calls tell from it that the user moved)."""

    @property
    def running(self) -> bool:
        """True while a choice is being sent."""
        return self._task is not None and not self._task.done()

    def save(self) -> None:
        """Sends the local leaf soon (now, if a loop runs; else at the next `wait`)."""
        if self.running:
            return  # the running task sends the newest leaf before it ends
        if self._wanted() == self.known:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside asyncio: `wait()` sends it later
            self._deferred = True
            return
        self._deferred = False
        self._task = loop.create_task(self._run(), name="grove-save-leaf")

    async def _run(self) -> None:
        while True:
            leaf = self._wanted()
            if leaf == self.known:
                return
            try:
                await self._send(leaf)
            except Exception as error:
                log.warning("could not save the current response on the server: %s", error)
                self._error = error
                self.known = UNKNOWN
                return
            self._error = None
            self.known = leaf
            self.sent += 1

    async def wait(self, *, raise_error: bool = True) -> None:
        """Returns once the server holds the local leaf; raises the last failure.

        A choice whose sending failed is sent again. With `raise_error=False` (sampling
        calls and reloads flush before they start) nothing new is sent and a failure is
        left for the next waiter.
        """
        if raise_error or self._deferred:
            self.save()
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)
        if raise_error and self._error is not None:
            error, self._error = self._error, None
            raise error

    def follow(self, parent_id: str | None) -> int:
        """A `select_reply` stream starts: the server's leaf is its parent from now on.

        Returns the count `followed` compares to tell whether the user moved since.
        """
        self._before_follow, self.known = self.known, parent_id
        return self.sent

    def followed(self, reply_id: str | None, sent_before: int, *, started: bool = True) -> bool:
        """A `select_reply` stream ended: what the server's leaf is now, as far as known.

        The server moved its leaf to the reply unless the user selected elsewhere while it
        streamed (or no reply was stored). When the local leaf is the reply and no choice
        was sent meanwhile, both agree; otherwise what the server holds is unknown, and the
        next `save()` sends the local leaf so the server ends where this client is. A stream
        refused before it `started` (nothing arrived) never touched the server's leaf.
        Returns True when the local leaf must be sent.
        """
        if not started and self.sent == sent_before:
            self.known = self._before_follow
            return False
        agreed = reply_id is not None and self._wanted() == reply_id
        if agreed and self.sent == sent_before and not self.running:
            self.known = reply_id
            return False
        self.known = UNKNOWN
        return True

    def cancel(self) -> None:
        """Stops a running save (the conversation was deleted or closed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
