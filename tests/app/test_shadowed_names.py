"""Widgets must not shadow Textual's own API with attributes of theirs (found by mypy).

`StatusLine.query` (a string) hid `DOMNode.query`, `ConversationList.remove(id)` hid
`Widget.remove()`, and `MainScreen.tree` (the forest pane) hid `DOMNode.tree`.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.dom import DOMNode

from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.widgets.status_line import StatusLine
from grove_explorer.client.models import ConversationSummary


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield ConversationList(id="sidebar")


async def test_status_line_keeps_query_and_shows_the_query_action() -> None:
    app = _Host()
    async with app.run_test() as pilot:
        status = app.query_one(StatusLine)
        status.query_action("search", "grove")
        await pilot.pause()
        assert "searching: grove" in status.shown.plain
        assert list(status.query("*")) == []  # DOMNode.query still works
        status.stream_started()
        assert status.query_text == ""


async def test_conversation_list_removes_a_conversation_and_can_itself_be_removed() -> None:
    app = _Host()
    async with app.run_test() as pilot:
        sidebar = app.query_one(ConversationList)
        sidebar.set_conversations(
            [
                ConversationSummary(conversation_id="c1", title="one", starred=False),
                ConversationSummary(conversation_id="c2", title="two", starred=False),
            ]
        )
        sidebar.remove_conversation("c1")
        assert [s.conversation_id for s in sidebar.summaries] == ["c2"]
        await sidebar.remove()  # Widget.remove, no longer shadowed
        await pilot.pause()
        assert not app.query(ConversationList)


def test_main_screen_leaves_dom_tree_alone() -> None:
    assert MainScreen.tree is DOMNode.tree
    assert isinstance(MainScreen.__dict__.get("forest_pane") or MainScreen.forest_pane, property)
