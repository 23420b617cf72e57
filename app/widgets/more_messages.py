"""`MoreMessages`: the "▲ k earlier / ▼ k later messages" line of the thread view."""

from __future__ import annotations

from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.widgets import Static


class MoreMessages(Static):
    """A clickable "▲ k earlier messages" (or "▼ k later messages") line."""

    DEFAULT_CSS = """
    MoreMessages {
        width: 1fr;
        height: 1;
        margin: 0 0 1 0;
        color: $text-muted;
        text-align: center;
        background: $boost;
    }
    MoreMessages:hover {
        color: $text;
        background: $primary 20%;
    }
    """

    class Pressed(Message):
        """The user asked for the messages this line stands for."""

        def __init__(self, earlier: bool) -> None:
            super().__init__()
            self.earlier = earlier
            """True for the top ("earlier") line, False for the bottom one."""

    def __init__(self, *, earlier: bool) -> None:
        super().__init__("", markup=False, classes="-earlier" if earlier else "-later")
        self.earlier = earlier
        self.count = 0

    def set_count(self, count: int) -> None:
        """Shows how many messages are not mounted on this side."""
        if count == self.count:
            return
        self.count = count
        plural = "" if count == 1 else "s"
        if self.earlier:
            label = f"▲ {count} earlier message{plural}"
        else:
            label = f"▼ {count} later message{plural}"
        self.update(Text(label))

    def on_click(self, event: Click) -> None:
        """Turns a click into a `Pressed` message for the thread view."""
        event.stop()
        self.post_message(self.Pressed(self.earlier))
