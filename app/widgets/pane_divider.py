"""A one-column divider between two panes that the mouse can drag to resize the left one.

Textual (8.x) has no split container or draggable gutter (Textualize/textual#6716 asks for
one), so this is the usual small version: on a button press the divider captures the
mouse, reports every move as `Dragged` with the screen column, and releases the mouse on
the button's release. The screen owns the widths (attributes down, messages up): it turns
the column into the left pane's width, clamps it and remembers it.
"""

from __future__ import annotations

from rich.segment import Segment
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget


class PaneDivider(Widget):
    """A vertical line; drag it with the mouse to move the boundary between two panes."""

    DEFAULT_CSS = """
    PaneDivider {
        width: 1;
        height: 1fr;
        color: $panel-lighten-2;
    }
    PaneDivider:hover, PaneDivider.-dragging {
        color: $accent;
    }
    """

    class Dragged(Message):
        """The divider was dragged to screen column `x` (the left pane should end there)."""

        def __init__(self, divider: PaneDivider, x: int) -> None:
            super().__init__()
            self.divider = divider
            self.x = x

        @property
        def control(self) -> PaneDivider:
            """The divider being dragged."""
            return self.divider

    class Released(Message):
        """The drag ended (the screen may save the width now)."""

    def render_line(self, y: int) -> Strip:
        return Strip([Segment("│", self.rich_style)])

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button == 1:
            event.stop()
            self.capture_mouse()
            self.add_class("-dragging")

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self.has_class("-dragging"):
            event.stop()
            self.post_message(self.Dragged(self, int(event.screen_x)))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self.has_class("-dragging"):
            event.stop()
            self.capture_mouse(False)
            self.remove_class("-dragging")
            self.post_message(self.Released())
