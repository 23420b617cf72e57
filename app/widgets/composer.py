"""The composer: a multi-line `TextArea` where Enter sends and Ctrl+J adds a newline.

Terminals cannot tell Shift+Enter from Enter, so Ctrl+J is the reliable newline key;
Shift+Enter also inserts one where the terminal reports it. The text is never cleared
here: the screen clears it once the server has stored the message, so a failed send
loses nothing.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})


class Composer(TextArea):
    """Where the user writes the next message."""

    DEFAULT_CSS = """
    Composer {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: round $primary 50%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
    }
    Composer:focus {
        border: round $primary;
    }
    Composer.-busy {
        border: round $warning;
    }
    """

    busy: reactive[bool] = reactive(False)

    class Submitted(Message):
        """The user pressed Enter to send `text` (not yet cleared from the composer)."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

        @property
        def control(self) -> Composer:
            """The composer that sent the message."""
            return self.composer

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.border_title = "Message"
        self.border_subtitle = "Enter send · Ctrl+J newline"

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.text.strip():
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self.replace("\n", start, end)
            return
        await super()._on_key(event)

    def watch_busy(self, busy: bool) -> None:
        """Shows that a reply is being sampled (and how to stop it)."""
        self.set_class(busy, "-busy")
        self.border_title = "Sampling… Esc stops" if busy else "Message"
