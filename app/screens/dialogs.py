"""Small modal dialogs: confirm, one-line prompt, the message editor and the note editor."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from grove_explorer.app.safe_text import inert
from grove_explorer.app.widgets.editor import MultilineEditor

DIALOG_CSS = """
{name} {{
    align: center middle;
    background: $background 60%;
}}
{name} > Vertical {{
    width: 72;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: thick $primary 70%;
    background: $surface;
    padding: 1 2;
}}
{name} Horizontal {{
    height: auto;
    align-horizontal: right;
    margin-top: 1;
}}
{name} Button {{
    margin-left: 2;
}}
"""


HINT = "Enter save · Ctrl+J newline · Esc cancel"


class ConfirmScreen(ModalScreen[bool]):
    """Asks a yes/no question; dismisses with True only on an explicit yes."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes") -> None:
        super().__init__()
        self._question = question
        self._detail = detail
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self._question, "bold"))
            if self._detail:
                yield Label(inert(self._detail, "dim"))
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button(self._yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        """Dismisses with the given answer."""
        self.dismiss(answer)


class PromptScreen(ModalScreen[str | None]):
    """Asks for one line of text (e.g. a title); None when cancelled."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self._title, "bold"))
            yield Input(value=self._value, placeholder=self._placeholder, id="prompt-input")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Closes without a value."""
        self.dismiss(None)


class EditScreen(ModalScreen[str | None]):
    """Edits a message's text; Enter or Ctrl+S saves (as a new branch), Esc cancels.

    The editor is the composer's (`MultilineEditor`): Enter saves, Ctrl+J inserts a newline.
    """

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="EditScreen")
        + """
    EditScreen MultilineEditor {
        height: 12;
    }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save as new branch"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self._title, "bold"))
            yield MultilineEditor(self._text, id="edit-text", hint=HINT)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save as new branch (Enter)", id="save", variant="primary")

    def on_mount(self) -> None:
        editor = self.query_one(MultilineEditor)
        editor.focus()
        editor.move_cursor(editor.document.end)

    @on(MultilineEditor.Submitted)
    def _editor_submitted(self, event: MultilineEditor.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        """Returns the edited text, unless it is blank."""
        text = self.query_one(MultilineEditor).text
        if not text.strip():
            self.notify("The message is empty.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Closes without saving."""
        self.dismiss(None)


class NoteScreen(EditScreen):
    """Edits the note on a response; Enter or Ctrl+S saves (empty removes it), Esc cancels."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="NoteScreen")
        + """
    NoteScreen MultilineEditor {
        height: 10;
    }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save note"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self._title, "bold"))
            yield MultilineEditor(self._text, id="note-text", hint=HINT)
            yield Label(inert("An empty note removes it.", "dim"))
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save note (Enter)", id="save", variant="primary")

    def action_save(self) -> None:
        """Returns the note without trailing blank space ("" removes the note)."""
        text = self.query_one(MultilineEditor).text
        self.dismiss(text.rstrip() if text.strip() else "")
