"""The composer: the multi-line editor where the user writes the next message.

Enter sends and Ctrl+J adds a newline (`MultilineEditor`, shared by every multi-line
field). The text is never cleared here: the screen clears it once the server has stored
the message, so a failed send loses nothing.
"""

from __future__ import annotations

from textual.reactive import reactive

from grove_explorer.app.safe_text import clean
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
    read_only_owner: reactive[str] = reactive("")
    """The owner of the open conversation when it is shared with the user as a reader."""
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
        self._show_title()

    def watch_read_only_owner(self, owner: str) -> None:
        """Says that nothing can be sent here (a reader of a shared conversation)."""
        self._show_title()

    def _show_title(self) -> None:
        if self.busy:
            self.border_title = "Sampling… Esc stops"
        elif self.read_only_owner:
            self.border_title = read_only_words(self.read_only_owner)
        else:
            self.border_title = "Message"


def read_only_words(owner: str) -> str:
    """What the composer and the sampling keys say in a conversation the user only reads."""
    return f"read-only: shared by {clean(owner)}"
