"""The explorer driven through Textual's pilot against a real server."""

from __future__ import annotations

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, main_screen, make_app, send, settle, until

SIZE = (130, 40)


async def test_send_streams_a_reply_and_clears_composer(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        assert screen.composer.has_focus, "the composer is focused at start"
        await send(pilot, "Tell me about apple trees in the garden")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        path = forest.current_path
        assert [n.sender for n in path] == ["human", "model"]
        assert path[0].message == "Tell me about apple trees in the garden"
        assert path[1].message and not path[1].streaming
        assert screen.composer.text == "", "cleared once the server stored the message"
        assert not screen.composer.busy
        assert screen.thread.live_response_id is None
        assert screen.forest.conversation.title == "Apple Trees Garden", "titled automatically"
        # The sidebar lists the new conversation.
        from grove_explorer.app.widgets.conversation_list import ConversationList

        sidebar = screen.query_one(ConversationList)
        assert [s.conversation_id for s in sidebar.summaries] == [
            forest.conversation.conversation_id
        ]


async def test_escape_stops_stream_and_keeps_partial(make_server) -> None:
    running = make_server(token_delay_ms=100.0)
    await running.start()
    try:
        async with explorer(running.address, size=SIZE) as (_, pilot, screen):
            await send(pilot, "A long story about the forest")
            await until(pilot, lambda: screen.thread.live_response_id is not None, "live reply")
            await until(
                pilot,
                lambda: bool(screen.forest and screen.forest.current_path[-1].message),
                "first tokens",
            )
            assert screen.composer.busy
            await pilot.press("escape")
            await settle(pilot)
            leaf = screen.forest.current_path[-1]
            assert leaf.partial and leaf.message and not leaf.streaming
            assert not screen.composer.busy
    finally:
        await running.stop()


async def test_resample_then_navigate_siblings(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "What grows in a forest?")
        await settle(pilot)
        first = screen.forest.leaf_id
        screen.thread.focus()
        await pilot.press("r")
        await settle(pilot)
        forest = screen.forest
        second = forest.leaf_id
        assert second != first
        assert forest.sibling_index(second) == (2, 2)
        screen.thread.focus_message(second)
        await pilot.press("left")
        await settle(pilot)
        assert forest.leaf_id == first
        await pilot.press("l")
        await settle(pilot)
        assert forest.leaf_id == second


async def test_edit_human_message_branches(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Original question about rivers")
        await settle(pilot)
        forest = screen.forest
        human = forest.current_path[0]
        screen.thread.focus()
        screen.thread.focus_message(human.response_id)
        await pilot.press("e")
        await pilot.pause()
        from textual.widgets import TextArea

        editor = app.screen.query_one(TextArea)
        editor.text = "Edited question about lakes"
        await pilot.press("ctrl+s")
        await settle(pilot)
        path = forest.current_path
        assert path[0].message == "Edited question about lakes"
        assert forest.sibling_index(path[0].response_id) == (2, 2)
        # Back to the first branch with h on the human message.
        screen.thread.focus_message(path[0].response_id)
        await pilot.press("h")
        await settle(pilot)
        assert forest.current_path[0].response_id == human.response_id


async def test_conversation_actions(server: GroveServer) -> None:
    async with Client(api_host=server.address) as sdk:
        for text in ("Bees and flowers", "Terminal colours"):
            conversation = sdk.grok.create_conversation()
            stream, future = conversation.add_response(text)
            async for _ in stream:
                pass
            await future
            await conversation.generate_title()
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        from grove_explorer.app.widgets.conversation_list import ConversationList

        sidebar = screen.query_one(ConversationList)
        assert {s.title for s in sidebar.summaries} == {"Bees Flowers", "Terminal Colours"}
        # Filter as you type, then open with Enter.
        sidebar.query_one("#conversation-filter").focus()
        await pilot.press(*"bees", "enter", "enter")
        await settle(pilot)
        assert screen.forest.conversation.title == "Bees Flowers"
        assert screen.forest.current_path[0].message == "Bees and flowers"
        # Star: starred first.
        screen.thread.focus()
        await pilot.press("s")
        await settle(pilot)
        assert sidebar.summaries[0].title == "Bees Flowers" and sidebar.summaries[0].starred
        # Rename.
        await pilot.press("f2")
        await pilot.pause()
        from textual.widgets import Input

        app.screen.query_one(Input).value = "Pollinators"
        await pilot.press("enter")
        await settle(pilot)
        assert screen.forest.conversation.title == "Pollinators"
        # Generate title from the path.
        await pilot.press("t")
        await settle(pilot)
        assert screen.forest.conversation.title == "Bees Flowers"
        # Delete with confirmation: cancel first, then confirm.
        screen.action_delete_conversation()
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        assert len(sidebar.summaries) == 2
        screen.action_delete_conversation()
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert [s.title for s in sidebar.summaries] == ["Terminal Colours"]
        assert screen.forest is None
        # New conversation.
        await pilot.press("n")
        await settle(pilot)
        assert screen.forest is not None and screen.forest.responses == {}


async def test_errors_are_notified_and_text_is_kept(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        huge = "x" * (server.config.max_message_bytes + 10)
        await send(pilot, huge)
        await settle(pilot)
        assert screen.composer.text == huge, "nothing the user typed is lost"
        assert not screen.composer.busy
        messages = [n.message for n in app._notifications]
        assert any("limit is 1048576 bytes" in str(m) for m in messages), messages


async def test_server_error_on_open_is_a_notification(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        screen.action_open_conversation("0" * 32)
        await settle(pilot)
        assert any("does not exist" in str(n.message) for n in app._notifications)
        assert isinstance(app.screen, type(screen)), "no crash, no traceback screen"


async def test_message_text_is_inert(server: GroveServer) -> None:
    hostile = (
        "[@click=app.quit]click[/] [/b] [TODO] \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 end"
    )
    async with Client(api_host=server.address) as sdk:
        conversation = sdk.grok.create_conversation()
        await conversation.ensure_created()
        manual = await sdk.stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=conversation.conversation_id, message=hostile
            )
        )
        assert manual.message == hostile
        await conversation.set_title("[b]bold[/b] \x1b[31mred")
        cid = conversation.conversation_id
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        screen.action_open_conversation(cid)
        await settle(pilot)
        assert screen.forest.current_path[0].message == hostile, "stored text stays as sent"
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        assert "[TODO]" in svg
        assert "[@click=app.quit]click[/]" in svg
        assert "[b]bold[/b]" in svg
        assert app.is_running


async def test_links_open_only_http_after_confirmation(server: GroveServer, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr("grove_explorer.app.screens.main.navigation.webbrowser.open", opened.append)
    app = make_app(server.address)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        from grove_explorer.app.screens.dialogs import ConfirmScreen
        from grove_explorer.app.widgets.thread_view import ThreadView

        screen.post_message(ThreadView.LinkRequested("javascript:alert(1)"))
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("only http(s)" in str(n.message) for n in app._notifications)
        screen.post_message(ThreadView.LinkRequested("https://example.org/x"))
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "asks before opening"
        assert opened == []
        await pilot.press("y")
        await settle(pilot)
        assert opened == ["https://example.org/x"]


async def test_keymap_from_config_rebinds_keys(server: GroveServer) -> None:
    keymap = {"resample": "ctrl+r", "help": "f1"}
    async with explorer(server.address, size=SIZE, keymap=keymap) as (app, pilot, screen):
        await send(pilot, "Rebinding keys")
        await settle(pilot)
        first = screen.forest.leaf_id
        screen.thread.focus()
        await pilot.press("r")
        await settle(pilot)
        assert screen.forest.leaf_id == first, "r no longer resamples"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.forest.leaf_id != first
        assert screen.forest.sibling_index(screen.forest.leaf_id) == (2, 2)
        await pilot.press("f1")
        await settle(pilot)
        from grove_explorer.app.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)


async def test_copy_and_palette(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Copy me please")
        await settle(pilot)
        screen.thread.focus()
        screen.thread.focus_message(screen.forest.current_path[0].response_id)
        await pilot.press("y")
        assert app.clipboard == "Copy me please"
        # The palette lists actions and conversations; choosing one runs it.
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"new conversation", "enter")
        await settle(pilot)
        assert screen.forest is not None and screen.forest.responses == {}


async def test_notifications_are_plain_text(server: GroveServer) -> None:
    """A server sentence quoting `[/b]` must not be parsed as markup (it would raise)."""
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        screen.action_open_conversation("[/b][@click=app.quit]x")
        await settle(pilot)
        await pilot.pause()
        assert app.is_running
        texts = [str(n.message) for n in app._notifications]
        assert any("[/b][@click=app.quit]x" in t for t in texts), texts
        assert all(not n.markup for n in app._notifications)
