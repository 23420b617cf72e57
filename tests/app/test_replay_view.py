"""The explorer's `P`: the replay form, the replay running in a worker, the replay view.

Against a real server (offline model): the path is replayed under the same offline model
with another temperature, the view shows both paths turn by turn, Enter continues from
the replayed leaf, and the replayed responses carry ↻ in the forest and thread headers.
"""

from __future__ import annotations

from textual.widgets import Input, Select

from grove_explorer.app.replay_marks import REPLAY_MARK, replay_label
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screens.replay.form import ReplayFormScreen, ReplaySettings
from grove_explorer.app.screens.replay.view import ReplayScreen
from grove_explorer.app.widgets.forest_tree.items import LEGEND, ForestItem
from grove_explorer.app.widgets.message_view import header_text
from grove_explorer.client.models import ResponseNode
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import SIZE, SMALL
from tests.app_helpers import explorer, settle, until


def test_the_mark_is_in_the_legend_the_forest_and_the_header() -> None:
    assert REPLAY_MARK in LEGEND
    node = ResponseNode(
        response_id="f" * 32, parent_id=None, sender="model", message="x", replay_of="a1" * 16
    )
    assert ForestItem((node,)).marks == REPLAY_MARK
    assert replay_label(node) == "↻ replay of a1a1a1a1"
    assert "↻ replay of a1a1a1a1" in header_text(node, (1, 1)).plain


async def _two_exchanges(screen: MainScreen) -> tuple[str, list[str]]:
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    first = await service.send(cid, "How do trees grow?", None, sampling=SMALL)
    assert first is not None
    second = await service.send(cid, "And in winter?", first.response_id, sampling=SMALL)
    assert second is not None
    path = [n.response_id for n in service.forest(cid).path_to(second.response_id)]
    return cid, path


async def test_p_replays_the_path_and_shows_both_side_by_side(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, original = await _two_exchanges(screen)
        await settle(pilot)
        screen.thread.focus()
        assert screen.thread.focus_message(original[-1])
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ReplayFormScreen), "replay form")
        form = app.screen
        assert isinstance(form, ReplayFormScreen)
        form.query_one("#replay-temperature", Input).value = "hot"
        form.action_submit()
        await pilot.pause()
        assert app.screen is form, "a bad temperature keeps the form open"
        assert "must be a number" in str(form.query_one("#replay-error").render())
        form.query_one("#replay-temperature", Input).value = "0.5"
        form.action_submit()
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen), "replay view")
        view = app.screen
        assert isinstance(view, ReplayScreen)
        assert [row.original.response_id for row in view.rows if row.original] == original
        replayed = [row.replayed for row in view.rows]
        assert all(node is not None for node in replayed)
        assert [node.replay_of for node in replayed if node] == original
        assert "turn 1 of 4" in view._title().plain
        await pilot.press("down", "down")
        assert view.current == 2 and "turn 3 of 4" in view._title().plain
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen, "back in the explorer")
        await settle(pilot)
        forest = screen.service.forest(cid)
        new_leaf = view.result.leaf_id
        assert new_leaf is not None and forest.leaf_id == new_leaf, "continued from the replay"
        assert forest.responses[original[-1]].replay_of == "", "the original path stays"
        header = header_text(forest.responses[new_leaf], (2, 2)).plain
        assert f"↻ replay of {original[-1][:8]}" in header


async def test_a_replay_that_fails_says_so_in_a_notification(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, original = await _two_exchanges(screen)
        await settle(pilot)
        before = set(screen.service.forest(cid).responses)
        await screen._replay(cid, original[-1], ReplaySettings("no-such-model"))
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any(
            "The replay stopped at step 1 of 2" in m
            and "Unknown model 'no-such-model'" in m
            and "nothing was replayed" in m
            for m in messages
        ), messages
        assert app.screen is screen, "nothing made: no replay view"
        assert set(screen.service.forest(cid).responses) == before


async def test_from_this_message_replays_the_rest_of_the_path_beside_it(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, original = await _two_exchanges(screen)
        await settle(pilot)
        screen.thread.focus()
        assert screen.thread.focus_message(original[2])  # the second question
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ReplayFormScreen), "replay form")
        form = app.screen
        assert isinstance(form, ReplayFormScreen)
        start = form.query_one("#replay-start", Select)
        labels = [str(option[0]) for option in start._options]
        assert labels == [
            "the root → this message (3 responses)",
            "this message → the path's end (2 responses)",
        ]
        start.value = True
        form.action_submit()
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen), "replay view")
        view = app.screen
        assert isinstance(view, ReplayScreen)
        assert [row.original.response_id for row in view.rows if row.original] == original[2:]
        copy = view.rows[0].replayed
        assert copy is not None and copy.parent_id == original[1], "shares the path above"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back in the explorer")
        assert screen.service.forest(cid).leaf_id == original[-1], "Esc: your place stays"
