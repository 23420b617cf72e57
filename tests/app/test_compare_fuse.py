"""Fusing in Compare: `m` marks samples, `F` opens the fuse form and a fused reply streams
into a new column marked ⊕; checklist points as a checklist; errors as notifications; the
⊕ marker in the forest pane and the thread header. Against a real server (offline model).
"""

from __future__ import annotations

from textual.widgets import Input, Select, SelectionList

from grove_explorer.app.fusion_marks import FUSED_MARK, fused_label
from grove_explorer.app.screens.compare.fuse_form import FuseScreen, PointsScreen
from grove_explorer.app.widgets.forest_tree import ForestTree
from grove_explorer.app.widgets.forest_tree.items import LEGEND, ForestItem
from grove_explorer.app.widgets.message_view import header_text
from grove_explorer.client.judgements import MERGE_MARK, ExtractedPoints, Point
from grove_explorer.client.models import ResponseNode
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import SIZE, conversation_with_siblings, open_compare
from tests.app_helpers import explorer, settle, until


def test_the_mark_is_the_sdk_one_and_in_the_legend() -> None:
    assert FUSED_MARK == MERGE_MARK
    assert FUSED_MARK in LEGEND
    fused = ResponseNode(
        response_id="f" * 32,
        parent_id="p" * 32,
        sender="model",
        message="Fused.",
        merged_from=tuple(f"{i}" * 32 for i in range(1, 7)),
        merge_mode="checklist",
    )
    plain = fused.model_copy(update={"merged_from": (), "merge_mode": ""})
    assert ForestItem((fused,)).marks == FUSED_MARK
    assert ForestItem((plain,)).marks == ""
    label = "⊕ fused (checklist) from 11111111, 22222222, 33333333, 44444444, +2 more"
    assert fused_label(fused) == label
    assert label in header_text(fused, (3, 3)).plain


async def test_f_fuses_every_sample_into_a_new_marked_column(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        cid, siblings = await conversation_with_siblings(screen, extra=2)
        siblings = list(siblings)  # the forest's own list grows with the fused reply
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, FuseScreen), "fuse form")
        form = app.screen
        assert isinstance(form, FuseScreen)
        assert compare.fuse_sources() == siblings
        await pilot.press("ctrl+s")  # keyboard only: mode fuse, no instruction
        await until(pilot, lambda: len(compare.columns) == 4, "a fused column")
        await settle(pilot)
        fused = compare.columns[-1]
        assert not fused.streaming
        assert fused.node.merged_from == tuple(siblings)
        assert "⊕ fused from 3" in fused.header.plain
        assert compare.focused_id == fused.response_id, "the new column takes the highlight"
        stored = screen.service.forest(cid).responses[fused.response_id]
        assert stored.merged_from == tuple(siblings) and stored.merge_mode == "fuse"
        assert stored.parent_id == screen.service.forest(cid).responses[siblings[0]].parent_id


async def test_marked_samples_are_fused_with_a_custom_instruction(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=2)
        siblings = list(siblings)  # the forest's own list grows with the fused reply
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("F")  # nothing marked: all three
        await until(pilot, lambda: isinstance(app.screen, FuseScreen), "fuse form")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is compare, "form closed")
        from grove_explorer.app.screens.help import binding_rows

        described = {keys: what for _, keys, what in binding_rows([compare])}
        assert described["m"] == "Mark to fuse" and described["F"].startswith("Fuse"), "in help"
        await pilot.press("m", "l", "l", "m")  # the first and the third
        assert compare.marked == [siblings[0], siblings[2]]
        assert compare.columns[0].border_title == "✓ marked to fuse"
        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, FuseScreen), "fuse form")
        form = app.screen
        assert isinstance(form, FuseScreen)
        form.query_one("#fuse-mode", Select).value = "custom"
        form.action_submit()
        assert "needs an instruction" in str(form.query_one("#fuse-error").render())
        form.query_one("#fuse-text", Input).value = "Keep it short."
        form.action_submit()
        await until(pilot, lambda: len(compare.columns) == 4, "a fused column")
        await settle(pilot)
        node = compare.columns[-1].node
        assert node.merged_from == (siblings[0], siblings[2]) and node.merge_mode == "custom"
        assert "Instruction noted: Keep it short." in node.message
        assert "⊕ fused from 2" in compare.columns[-1].header.plain
        fused_id = compare.columns[-1].response_id
        # The explorer shows the fused reply with ⊕ in the forest pane.
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        tree = screen.query_one(ForestTree)
        (question,) = tree.root.children
        labels = {
            child.data.first_id: child.label.plain
            for child in question.children
            if child.data is not None
        }
        assert labels[fused_id].startswith(f"◆ 4/4 {FUSED_MARK} "), labels[fused_id]
        assert all(FUSED_MARK not in labels[rid] for rid in siblings)


async def test_fewer_than_two_samples_is_said_and_a_checklist_asks_the_server_for_points(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=1)
        siblings = list(siblings)  # the forest's own list grows with the fused reply
        compare = await open_compare(pilot, screen, siblings[0])
        await pilot.press("m", "F")
        await pilot.pause()
        assert not isinstance(app.screen, FuseScreen)
        assert any("at least 2 finished samples" in str(n.message) for n in app._notifications)
        await pilot.press("m", "F")  # unmarked again: both samples
        await until(pilot, lambda: isinstance(app.screen, FuseScreen), "fuse form")
        form = app.screen
        assert isinstance(form, FuseScreen)
        form.query_one("#fuse-mode", Select).value = "checklist"
        form.action_submit()
        # The server's ExtractPoints (the offline model's heuristic: the samples' sentences)
        # fills the checklist, every point checked.
        await until(pilot, lambda: isinstance(app.screen, PointsScreen), "the points checklist")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PointsScreen)
        checked = list(dialog.checked)
        assert checked, "the offline heuristic found no point"
        await pilot.press("enter")
        await until(pilot, lambda: len(compare.columns) == 3, "a fused column")
        await settle(pilot)
        node = compare.columns[-1].node
        assert node.merge_mode == "checklist" and not node.streaming
        assert node.merge_instruction == "\n".join(checked)
        assert set(node.merged_from) == set(siblings)


async def test_the_points_checklist_fuses_from_the_checked_points(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        _, siblings = await conversation_with_siblings(screen, extra=1)
        siblings = list(siblings)  # the forest's own list grows with the fused reply
        compare = await open_compare(pilot, screen, siblings[0])
        points = ExtractedPoints(
            points=(
                Point(text="Trees need light", response_ids=tuple(siblings)),
                Point(text="[bold]Roots[/] drink water", response_ids=(siblings[0],)),
                Point(text="Leaves fall", response_ids=(siblings[1],)),
            )
        )
        from grove_explorer.app.screens.compare.fuse_form import FuseSettings

        # As the service's answer arrives: on the screen's own message loop.
        compare.call_later(compare.show_points, siblings, FuseSettings("checklist"), points)
        await until(pilot, lambda: isinstance(app.screen, PointsScreen), "points")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PointsScreen)
        listing = dialog.query_one(SelectionList)
        assert "[bold]Roots[/] drink water  (1/2)" in str(listing.get_option_at_index(1).prompt)
        await pilot.press("down", "space")  # uncheck the second point
        assert dialog.checked == ["Trees need light", "Leaves fall"]
        await pilot.press("enter")
        await until(pilot, lambda: len(compare.columns) == 3, "a fused column")
        await settle(pilot)
        node = compare.columns[-1].node
        assert node.merge_mode == "checklist"
        assert node.merge_instruction == "Trees need light\nLeaves fall"
        assert node.message.endswith("- Trees need light\n- Leaves fall")
