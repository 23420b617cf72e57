"""The one multi-line editor: Enter submits, Ctrl+J (or Shift+Enter) inserts a newline.

Every multi-line text field of the app (the composer, the message editor, the note
editor) is this widget, so the keys mean the same everywhere. Terminals cannot tell
Shift+Enter from Enter, so Ctrl+J is the reliable newline key; Shift+Enter and Alt+Enter
also insert one where the terminal reports them.

Text typed or pasted is kept exactly (a paste inserts the pasted string, escape bytes
included, as one edit); what is drawn is inert: control sequences are hidden one for
one (`hide_controls`), so nothing reaches the terminal, and the border says how many the
text holds, since they will be sent.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import TextArea

from grove_explorer.app.safe_text import count_sequences, hide_controls

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})


class MultilineEditor(TextArea):
    """A `TextArea` where Enter posts `Submitted` and Ctrl+J inserts a newline."""

    class Submitted(Message):
        """The user pressed Enter to submit `text` (the editor is not cleared)."""

        def __init__(self, editor: MultilineEditor, text: str) -> None:
            super().__init__()
            self.editor = editor
            self.text = text

        @property
        def control(self) -> MultilineEditor:
            """The editor that submitted."""
            return self.editor

    hint = "Enter submit · Ctrl+J newline"
    """The key hint shown in the border subtitle."""

    def __init__(self, text: str = "", *, id: str | None = None, hint: str | None = None) -> None:
        super().__init__(text, id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        if hint is not None:
            self.hint = hint
        self._controls = count_sequences(text)
        self._show_hint()

    def accepts(self, text: str) -> bool:
        """Whether Enter submits `text` (subclasses refuse e.g. a blank message)."""
        return True

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if self.accepts(self.text):
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self.replace("\n", start, end)
            return
        await super()._on_key(event)

    def get_line(self, line_index: int) -> Text:
        """The line as drawn: control characters hidden (same length, so cursor math holds).

        Built from the document's line, not `TextArea.get_line`'s `Text`: Rich drops BEL
        and a few other controls when it builds a `Text`, which would end an OSC sequence's
        terminator early and shift every later column.
        """
        return Text(hide_controls(self.document.get_line(line_index)), end="", no_wrap=True)

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        controls = count_sequences(self.text)
        if controls != self._controls:
            self._controls = controls
            self._show_hint()

    def _show_hint(self) -> None:
        hint = self.hint
        if self._controls:
            s = "" if self._controls == 1 else "s"
            hint = f"{self._controls} control sequence{s} hidden · {hint}"
        self.border_subtitle = hint
