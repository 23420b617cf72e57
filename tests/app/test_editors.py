"""Every multi-line editor keys like the composer; a paste inserts exactly what was pasted.

Enter submits (saves in a dialog), Ctrl+J and Shift+Enter insert a newline. A bracketed
paste holding escape sequences is one `Paste` event: its text is stored exactly and drawn
inert (the sequences hidden, the border counting them).
"""

from __future__ import annotations

from textual import events
from textual.app import App
from textual.geometry import Region
from textual.widgets import Input

from grove_explorer.app.safe_text import HIDDEN
from grove_explorer.app.screens.dialogs import EditScreen, NoteScreen
from grove_explorer.app.widgets.editor import MultilineEditor
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle

PASTED = "ls --color\n\x1b[31mRED\x1b[0m done\x1b]0;pwned\x07\r\nlast"
# The editor keeps lines: a Windows line ending becomes a newline, every other byte stays.
KEPT = PASTED.replace("\r\n", "\n")


class DialogApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.results: list[str | None] = []


async def _edit_in(screen: EditScreen) -> list[str | None]:
    app = DialogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(screen, app.results.append)
        await pilot.pause()
        editor = app.screen.query_one(MultilineEditor)
        assert editor.has_focus and editor.cursor_location == editor.document.end
        await pilot.press("ctrl+j", "a", "shift+enter", "b")
        assert app.results == [], "newline keys never save"
        await pilot.press("enter")
        await pilot.pause()
    return app.results


async def test_note_editor_keys_like_the_composer() -> None:
    assert await _edit_in(NoteScreen("Note", "first")) == ["first\na\nb"]


async def test_edit_dialog_keys_like_the_composer() -> None:
    assert await _edit_in(EditScreen("Edit", "question")) == ["question\na\nb"]


async def test_a_paste_is_inserted_exactly_and_drawn_inert(server: GroveServer) -> None:
    async with explorer(server.address, size=(120, 36)) as (app, pilot, screen):
        composer = screen.composer
        composer.focus()
        composer.insert("before ")
        app.post_message(events.Paste(PASTED))  # as the driver does: to the focused widget
        await pilot.pause()
        assert composer.text == "before " + KEPT, "stored exactly, one edit, no keystrokes"
        assert not screen.forest or not screen.forest.responses, "nothing was sent"
        strips = composer.render_lines(Region(0, 0, *composer.size))
        drawn = "".join(segment.text for strip in strips for segment in strip)
        assert "\x1b" not in drawn and "\x07" not in drawn and "\r" not in drawn
        assert "RED" in drawn and "[31m" not in drawn and "pwned" not in drawn
        assert "3 control sequences hidden" in str(composer.border_subtitle)
        assert HIDDEN * len("\x1b[31m") in composer.get_line(1).plain

        await pilot.press("enter")
        await settle(pilot)
        human = screen.forest.current_path[0]
        assert human.message == "before " + KEPT, "sent as pasted"
        assert "control" not in str(composer.border_subtitle), "the count goes with the text"


async def test_a_paste_into_a_one_line_field_is_cleaned(server: GroveServer) -> None:
    async with explorer(server.address, size=(120, 36)) as (app, pilot, screen):
        field = screen.query_one("#conversation-filter", Input)
        field.focus()
        app.post_message(events.Paste("\x1b[31mred\x1b[0m \x1b]0;t\x07notes\nsecond line"))
        await pilot.pause()
        assert field.value == "red notes", "sequences dropped, first line only"
