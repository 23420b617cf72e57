"""A new thread's first screen first: the rest of its window is mounted after that frame.

Showing another thread altogether mounts the last `WINDOW` messages of its path; each is
a Rich renderable built, styled and measured before the first frame, which made opening a
long conversation cost a few hundred milliseconds before anything showed. `FirstScreen`
(a part of `ThreadView`) mounts only the messages that fill the view twice over
(estimated from their text, nothing rendered), anchored at the end when they are far
taller than the view, so the first frame shows the end of the thread; then, after the
frame that shows it, the rest of the window above them, a screenful per frame (the view
stays at the end, or if the user scrolled up meanwhile, what they see stays in place).
The window ends as it did: the last `WINDOW` messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator, Sequence
from typing import TYPE_CHECKING, Any

from textual.await_complete import AwaitComplete
from textual.worker import Worker

from grove_explorer.app.widgets.following_scroll import FollowingScroll
from grove_explorer.app.widgets.thread_window import Siblings

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode


def screenful_start(
    path: Sequence[ResponseNode], lo: int, hi: int, width: int, height: int
) -> tuple[int, bool]:
    """Where the messages at the end of path[lo:hi] that fill `height` rows twice start.

    Also whether they do fill them (False: the whole range is shorter). Estimated from the
    text — a row per `width` characters of each source line, two for the header and the
    spacing — while rendered Markdown only takes more (wrapping at words, blank lines
    between blocks).
    """
    rows = 2 * max(height, 10)
    width = max(width, 20)
    index, total = hi, 0
    while index > lo and total < rows:
        index -= 1
        total += 2 + sum(len(line) // width + 1 for line in path[index].message.split("\n"))
    return index, total >= rows


class _Finished:
    """Awaits a worker's end, however it ends (a newer thread cancels it)."""

    def __init__(self, worker: Worker[None]) -> None:
        self.worker = worker

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        try:
            await self.worker.wait()
        except Exception:  # cancelled or failed: nothing more will be mounted
            return


class FirstScreen(FollowingScroll):
    """The thread view's first screen of a new thread (see the module docstring)."""

    _path: list[ResponseNode]
    _siblings: Siblings
    _lo: int
    _first_screen: tuple[int, int, bool] | None = None
    """(window start wanted, first screen's start, far taller than the view) of the thread
    being shown, between `_first_screen_start` and `_rest_of_window`."""

    @property
    def window(self) -> tuple[int, int]:
        """The range of path indices mounted (the view's)."""
        raise NotImplementedError

    def _apply(
        self, path: list[ResponseNode], siblings: Siblings, lo: int, hi: int, same: int
    ) -> tuple[list[Awaitable[object]], int]:
        """Mounts path[lo:hi] (the view's)."""
        raise NotImplementedError

    def load_earlier(self, count: int = 1) -> AwaitComplete:
        """Mounts `count` earlier messages, keeping what is on screen in place (the view's)."""
        raise NotImplementedError

    def _first_screen_start(self, path: list[ResponseNode], lo: int, hi: int, fresh: bool) -> int:
        """The window start to mount now: `lo`, or where the first screen starts if `fresh`."""
        self._first_screen = None
        if not fresh:
            return lo
        width = (self.size.width or self.app.size.width) - 6
        start, tall = screenful_start(path, lo, hi, width, self.size.height or self.app.size.height)
        self._first_screen = (lo, start, tall)
        return start

    def _rest_of_window(self, path: list[ResponseNode], kept: int) -> list[Awaitable[object]]:
        """After `_apply`: anchors a tall first screen; schedules the rest of the window.

        Returns what completes once the window is whole (or another path replaced it).
        """
        first, self._first_screen = self._first_screen, None
        if first is None or kept:
            return []
        target, start, tall = first
        if tall:  # the first frame's layout then shows the end already
            self.anchor(True)
        if start <= target:
            return []
        worker = self.run_worker(
            self._fill_window(path, target, start), group="first-screen", exclusive=True
        )
        return [_Finished(worker)]

    async def _fill_window(self, path: list[ResponseNode], target: int, start: int) -> None:
        """Mounts messages above the first screen until the window starts at `target`.

        A screenful per frame, after the frames that show the first screen scrolled to
        the end; stops when another path was shown since or the view left the screen.
        """
        step = max(len(path) - start, 1)
        await self._frames(2)
        while self._path is path and self._lo > target and self.is_attached:
            lo, hi = self.window
            new_lo = max(target, lo - step)
            if self._follow:  # at the end: stays there as the content grows (FollowingScroll)
                waits, _ = self._apply(path, self._siblings, new_lo, hi, len(path))
                await asyncio.gather(*waits)
            else:  # the user scrolled up meanwhile: what they see stays in place
                await self.load_earlier(lo - new_lo)
            await self._frames(1)

    async def _frames(self, count: int) -> None:
        """Returns after `count` more frames were painted."""
        for _ in range(count):
            frame: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.call_after_refresh(lambda f=frame: f.done() or f.set_result(None))
            await frame
