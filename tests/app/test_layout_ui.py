"""The explorer's layout and first screen: pane widths (keys, mouse, remembered), small
terminals, the welcome panel, F1 help in words, a footer that never cuts a word."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets._footer import FooterKey

from grove_explorer.app.layout_state import FILE_NAME
from grove_explorer.app.screens.help import HelpScreen
from grove_explorer.app.screens.main.layout import MIN_THREAD
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.widgets.fitting_footer import FittingFooter
from grove_explorer.app.widgets.pane_divider import PaneDivider
from grove_explorer.app.widgets.welcome import Welcome
from grove_explorer.client import Client
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle

WIDE = (160, 45)
SMALL = (80, 24)


async def seed(address: str, *texts: str) -> list[str]:
    """Conversations with one exchange each, oldest first; returns their ids."""
    ids = []
    async with Client(api_host=address) as sdk:
        for text in texts:
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(text)
            async for _ in stream:
                pass
            await future
            ids.append(conversation.conversation_id)
    return ids


def width_of(screen, selector: str) -> int:
    return screen.query_one(selector).outer_size.width


async def test_forest_width_keys_are_remembered_across_runs(
    server: GroveServer, tmp_path: Path
) -> None:
    await seed(server.address, "Bees and flowers")
    state = tmp_path / "state"
    async with explorer(server.address, size=WIDE, state_dir=state) as (_app, pilot, screen):
        assert width_of(screen, "#forest") == 38
        screen.thread.focus()
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        await settle(pilot)
        assert width_of(screen, "#forest") == 50
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert width_of(screen, "#forest") == 46
        # Without the sidebar the pane has its own (wider) remembered width.
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not screen.query_one(ConversationList).display
        assert width_of(screen, "#forest") == 52
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert width_of(screen, "#forest") == 56
    saved = json.loads((state / FILE_NAME).read_text())
    assert saved == {"forest_width": 46, "forest_width_without_sidebar": 56}
    async with explorer(server.address, size=WIDE, state_dir=state) as (_app, pilot, screen):
        assert screen.query_one(ConversationList).display
        assert width_of(screen, "#forest") == 46
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert width_of(screen, "#forest") == 56


async def test_dragging_the_divider_resizes_the_forest(server: GroveServer, tmp_path: Path) -> None:
    await seed(server.address, "Bees and flowers")
    state = tmp_path / "state"
    async with explorer(server.address, size=WIDE, state_dir=state) as (_app, pilot, screen):
        divider = screen.query_one(PaneDivider)
        start = divider.region.x
        assert start == screen.query_one("#forest").region.right
        await pilot.mouse_down(divider, offset=(0, 5))
        await pilot.hover(None, offset=(start + 12, 10))
        await pilot.mouse_up(None, offset=(start + 12, 10))
        await settle(pilot)
        assert width_of(screen, "#forest") == 38 + 12
        assert divider.region.x == start + 12
    assert json.loads((state / FILE_NAME).read_text())["forest_width"] == 50


async def test_small_terminal_opens_the_newest_conversation_readably(server: GroveServer) -> None:
    ids = await seed(server.address, "An older question", "The newest question")
    async with explorer(server.address, size=SMALL) as (_app, _pilot, screen):
        assert screen.conversation_id == ids[-1]
        assert not screen.query_one(Welcome).display
        assert not screen.query_one(ConversationList).display
        assert screen.query_one("#forest").display
        assert width_of(screen, "#main") >= MIN_THREAD
        assert screen.thread.focused_response_id is not None or screen.forest is not None


async def test_the_thread_keeps_the_larger_share_of_a_medium_terminal(
    server: GroveServer,
) -> None:
    """At 100 columns (no sidebar) the default forest width would leave the thread 48
    columns; the thread keeps most of the width instead."""
    await seed(server.address, "Oaks and acorns")
    async with explorer(server.address, size=(100, 30)) as (_app, pilot, screen):
        await settle(pilot)
        assert not screen.query_one(ConversationList).display
        forest, thread = width_of(screen, "#forest"), screen.thread.outer_size.width
        assert thread > forest
        assert thread >= 0.6 * 100 - 2, (forest, thread)


async def test_shrinking_to_80_columns_hides_the_sidebar_not_the_thread(
    server: GroveServer,
) -> None:
    await seed(server.address, "Bees and flowers")
    async with explorer(server.address, size=WIDE) as (_app, pilot, screen):
        sidebar = screen.query_one(ConversationList)
        assert sidebar.display
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        await pilot.pause()
        assert not sidebar.display
        assert width_of(screen, "#main") >= MIN_THREAD
        # Asking for the sidebar there: the forest makes way, the thread keeps its room.
        screen.thread.focus()
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sidebar.display and not screen.query_one("#forest").display
        assert width_of(screen, "#main") >= MIN_THREAD
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        await pilot.pause()
        assert sidebar.display and screen.query_one("#forest").display


async def test_welcome_panel_until_a_conversation_opens(server: GroveServer) -> None:
    async with explorer(server.address, size=WIDE, keymap={"help": "f1,f10"}) as (
        _app,
        pilot,
        screen,
    ):
        welcome = screen.query_one(Welcome)
        assert screen.conversation_id is None and welcome.display
        assert "Welcome to Grove" in welcome.intro.plain
        shown = {keys for keys, _ in welcome.rows}
        assert {"r", "/", ">", "<", "n", "^b"} <= {k.lower() for k in shown}
        assert "f1 f10" in {k.lower() for k in shown}  # a rebound key shows as rebound
        # Titles name the panes.
        assert screen.query_one(ConversationList).border_title == "Conversations"
        assert screen.query_one("#forest").border_title == "Forest"
        assert screen.query_one("#main").border_title == "Thread"
        screen.thread.focus()
        await pilot.press("n")
        await settle(pilot)
        assert screen.conversation_id is not None
        assert not welcome.display


async def test_f1_opens_help_with_places_in_words(server: GroveServer) -> None:
    async with explorer(server.address, size=WIDE) as (app, pilot, _screen):
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        places = {where for where, _, _ in app.screen._rows}
        assert {"Anywhere", "Explorer", "Thread", "Forest pane"} <= places
        assert not any(name.endswith(("Screen", "View", "Tree", "App")) for name in places)
        keys = {description: keys for _, keys, description in app.screen._rows}
        assert any("f1" in k.lower() for k in keys.values())
        assert any(">" in k for k in keys.values()) and any("<" in k for k in keys.values())
        await pilot.press("f1")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_footer_shows_only_whole_keys(server: GroveServer) -> None:
    await seed(server.address, "Bees and flowers")
    for size in (SMALL, WIDE):
        async with explorer(server.address, size=size) as (_app, pilot, screen):
            screen.thread.focus()
            await settle(pilot)
            footer = screen.query_one(FittingFooter)
            keys = [key for key in footer.query(FooterKey) if key.display]
            palette = [key for key in keys if key.has_class("-command-palette")]
            limit = palette[0].region.x if palette else footer.region.right
            shown = [key for key in keys if key not in palette]
            assert shown, "some keys are shown"
            assert all(key.region.right <= limit for key in shown)
            hidden = [key for key in footer.query(FooterKey) if not key.display]
            if size == SMALL:
                assert hidden, "80 columns cannot hold every key"
