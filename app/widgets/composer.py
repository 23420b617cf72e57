"""The composer: the multi-line editor where the user writes the next message.

Enter sends and Ctrl+J adds a newline (`MultilineEditor`, shared by every multi-line
field). The text is never cleared here: the screen clears it once the server has stored
the message, so a failed send loses nothing.
"""

from __future__ import annotations

from textual.reactive import reactive

from grove_explorer.app.widgets.editor import MultilineEditor


class Composer(MultilineEditor):
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
    hint = "Enter send · Ctrl+J newline"

    class Submitted(MultilineEditor.Submitted):
        """The user pressed Enter to send `text` (not yet cleared from the composer)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Message"

    def accepts(self, text: str) -> bool:
        """A blank message is not sent."""
        return bool(text.strip())

    def watch_busy(self, busy: bool) -> None:
        """Shows that a reply is being sampled (and how to stop it)."""
        self.set_class(busy, "-busy")
        self.border_title = "Sampling… Esc stops" if busy else "Message"
