"""Coalesced drawing of the Compare screen's streaming columns.

Token events only queue text on a column (`SampleColumn.append`, O(1)) and mark it dirty
here; one interval timer draws every dirty column at most `FLUSH_HZ` times a second, so
the columns it flushes together are painted in one frame and the event loop stays free
for the gRPC readers. Columns scrolled out of the row's view are held back and drawn when
they come into it: with 16 columns only three or four fit the screen, and drawing the
others per tick (header, wrapping) would cost four times the work for nothing seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.timer import Timer

from grove_explorer.app.screens.compare.view_order import ids_in_view
from grove_explorer.app.widgets.sample_column import SampleColumn

FLUSH_HZ = 30
"""How often, at most, streamed text is drawn (all dirty columns in one frame).

30 a second keeps the time between frames well under 50 ms while leaving most of each
second to the event loop (which also reads the gRPC streams) with 8 or more live columns.
"""


class CoalescedDrawing:
    """The dirty columns of one Compare screen and the timer that draws them.

    The screen owns it: `queue` after a column got text, `forget` when a column leaves
    or is re-keyed, `bring_into_view` after the row scrolled or was re-ordered, `stop`
    when the screen goes.
    """

    def __init__(
        self,
        screen: Screen[Any],
        columns: Mapping[str, SampleColumn],
        row: Callable[[], ScrollableContainer],
    ) -> None:
        self._screen = screen
        self._columns = columns
        self._row = row
        self.dirty: set[str] = set()
        """Columns with text queued since their last draw."""
        self.offscreen: set[str] = set()
        """Dirty columns scrolled out of view: drawn when they come into it."""
        self._timer: Timer | None = None

    def queue(self, response_id: str) -> None:
        """Draws the column's queued text within 1/FLUSH_HZ s (if it is in view).

        One interval timer for every column, running while text arrives: its ticks keep a
        steady beat (a late tick does not push the next ones back).
        """
        self.dirty.add(response_id)
        if self._timer is None:
            self._timer = self._screen.set_interval(1 / FLUSH_HZ, self.flush)

    def forget(self, response_id: str) -> None:
        """The column left (or goes by another id now): nothing to draw for this id."""
        self.dirty.discard(response_id)
        self.offscreen.discard(response_id)

    def hold(self, response_id: str) -> None:
        """A column finished out of view: its finished body is drawn when it is seen."""
        self.offscreen.add(response_id)

    def flush(self) -> None:
        """Draws the dirty columns in view; those out of view wait in `offscreen`.

        A streaming column draws its queued text; a finished one held back (`hold`) draws
        its finished body.
        """
        dirty, self.dirty = self.dirty, set()
        if not dirty and self._timer is not None:
            # Nothing arrived for a whole period: rest until the next token.
            self.stop()
            return
        columns = [c for rid in dirty if (c := self._columns.get(rid)) is not None]
        in_view = ids_in_view(self._row(), columns)
        for column in columns:
            if column.response_id not in in_view:
                self.offscreen.add(column.response_id)
            elif column.streaming:
                column.flush()
            else:
                column.draw_finished()

    def bring_into_view(self) -> None:
        """Queues the held-back columns again (the next flush draws those now in view)."""
        if self.offscreen:
            held, self.offscreen = self.offscreen, set()
            for response_id in held:
                self.queue(response_id)

    def stop(self) -> None:
        """Stops the timer (the screen is going, or nothing arrived for a period)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
