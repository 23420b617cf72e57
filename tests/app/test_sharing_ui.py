"""Shared conversations in the explorer: the sidebar mark, read-only, and "by bob".

Alice shares a conversation with Bob (a real server, real keys); Bob's explorer lists it
with its owner and his role. As a reader, the composer says "read-only: shared by alice"
and sending or sampling says so instead of failing (nothing is stored). As a writer, his
reply is stored as his, and Alice's explorer marks it "by bob".
"""

from __future__ import annotations

from rich.text import Text

from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.widgets.message_view import MessageView, header_text
from grove_explorer.client import Client
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import alice_shares, explorer, send, settle

SIZE = (130, 40)


async def test_a_reader_sees_the_mark_and_cannot_send_a_writer_is_named(
    team: GroveServer,
) -> None:
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        mine = await alice_shares(alice, "reader", "Medlar notes")
        cid = mine.conversation_id

        async with explorer(team.address, size=SIZE, api_key="key-bob") as (_, pilot, screen):
            await settle(pilot)
            sidebar = screen.query_one(ConversationList)
            prompt = sidebar.options.get_option(cid).prompt
            assert isinstance(prompt, Text)
            assert prompt.plain.startswith("  Medlar") and "⇄alice·r" in prompt.plain
            assert screen.conversation_id == cid
            assert screen.composer.border_title == "read-only: shared by alice"

            notes: list[str] = []
            screen.notify = lambda message, **_: notes.append(str(message))  # type: ignore[method-assign]
            await send(pilot, "Let me add something")
            await settle(pilot)
            screen.action_resample()
            await settle(pilot)
            assert notes == [
                "read-only: shared by alice; ask them for writer access.",
                "read-only: shared by alice; ask them for writer access.",
            ]
            assert screen.composer.text == "Let me add something", "nothing is lost"
        await mine.load()
        assert len(mine.responses) == 2, "nothing was stored"

        await mine.share_with("bob", "writer")
        async with explorer(team.address, size=SIZE, api_key="key-bob") as (_, pilot, screen):
            await settle(pilot)
            assert screen.composer.border_title == "Message"
            await send(pilot, "And quinces?")
            await settle(pilot)
        await mine.load()
        bobs = [r for r in mine.responses if r.author_user_id == "bob"]
        assert [r.sender for r in bobs] == ["human", "model"]
        human, reply = (r.node for r in bobs)
        assert header_text(human, (1, 1)).plain.startswith("bob")
        assert "by bob" in header_text(reply, (1, 1)).plain


async def test_the_share_dialog_grants_lists_and_revokes(team: GroveServer) -> None:
    from textual.widgets import Input, OptionList

    from grove_explorer.app.screens.share_dialog import ShareScreen, parse_grant

    assert parse_grant("bob") == ("bob", "reader")
    assert parse_grant("bob Writer") == ("bob", "writer")
    assert parse_grant("bob owner") == "Type a user, then reader or writer (e.g. 'bob writer')."
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        mine = alice.grok.create_conversation()
        await mine.ensure_created()
        await mine.set_title("Quinces")
        cid = mine.conversation_id
        async with explorer(team.address, size=SIZE, api_key="key-alice") as (app, pilot, screen):
            await settle(pilot)
            assert screen.conversation_id == cid
            screen.action_share_with_users()
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ShareScreen)
            assert dialog.grants == []
            field = dialog.query_one(Input)
            field.value = "bob writer"
            await pilot.press("enter")
            await settle(pilot)
            assert [(g.user_id, g.role) for g in dialog.grants] == [("bob", "writer")]
            assert [(g.user_id, g.role) for g in await mine.access_list()] == [("bob", "writer")]

            field.value = "nobody"
            await pilot.press("enter")
            await settle(pilot)
            assert [g.user_id for g in dialog.grants] == ["bob"], "an unknown user is refused"
            assert field.value == "nobody", "the refused name stays to be corrected"

            options = dialog.query_one(OptionList)
            options.focus()
            options.highlighted = 0
            await pilot.pause()
            shown = {
                key: active.binding.description
                for key, active in dialog.active_bindings.items()
                if active.binding.show
            }
            assert shown["r"] == "Reader/writer" and shown["d"] == "Revoke", "in the footer"
            await pilot.press("r")
            await settle(pilot)
            assert [(g.user_id, g.role) for g in dialog.grants] == [("bob", "reader")]
            assert [(g.user_id, g.role) for g in await mine.access_list()] == [("bob", "reader")]
            assert options.highlighted == 0, "the switched user stays highlighted"
            await pilot.press("r")
            await settle(pilot)
            assert [(g.user_id, g.role) for g in await mine.access_list()] == [("bob", "writer")]
            await pilot.press("d")
            await settle(pilot)
            assert dialog.grants == []
            assert await mine.access_list() == []
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen

        await mine.share_with("bob", "writer")
        async with explorer(team.address, size=SIZE, api_key="key-bob") as (app, pilot, screen):
            await settle(pilot)
            notes: list[str] = []
            screen.notify = lambda message, **_: notes.append(str(message))  # type: ignore[method-assign]
            screen.action_share_with_users()
            await settle(pilot)
            assert not isinstance(app.screen, ShareScreen)
            assert notes == [
                "Only alice, who owns this conversation, can share it; it is shared with "
                "you as a writer."
            ]


async def test_a_writer_sees_you_for_their_own_and_names_the_owner(team: GroveServer) -> None:
    async with Client(api_host=team.address, api_key="key-alice") as alice:
        mine = await alice_shares(alice, "writer")

        async with explorer(team.address, size=SIZE, api_key="key-bob") as (_, pilot, screen):
            await settle(pilot)
            await send(pilot, "And quinces?")
            await settle(pilot)
            headers = [v.header.plain for v in screen.query(MessageView)]
            assert len(headers) == 4, headers
            assert headers[0].startswith("alice"), "the owner's message, seen by a writer"
            assert "by alice" in headers[1]
            assert headers[2].startswith("You"), "the writer's own message"
            assert "by " not in headers[3], "the writer's own reply names nobody"
        assert header_text(mine.responses[0].node, (1, 1)).plain.startswith("You"), (
            "the explorer's viewpoint ends with it"
        )

        await mine.load()
        mine.set_leaf_response_id(mine.responses[-1].response_id)  # Alice goes to Bob's reply
        await mine.leaf_saved()
        async with explorer(team.address, size=SIZE, api_key="key-alice") as (_, pilot, screen):
            await settle(pilot)
            headers = [v.header.plain for v in screen.query(MessageView)]
            assert len(headers) == 4, headers
            assert headers[0].startswith("You") and "by " not in headers[1]
            assert headers[2].startswith("bob") and "by bob" in headers[3]
