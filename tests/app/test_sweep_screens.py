"""The sweep in the app: `W` on a reply opens the form; a bad axis is said in the form;
Run shows the progress and then the table (one row per cell); `s` sorts; Enter opens
Compare on the cell's samples alone (the node's other siblings hidden, counted, X shows).
Driven through the pilot against a real server with the offline model as "alpha" (the
default) and "beta"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from grove_explorer.app.screens.compare import CompareScreen
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.screens.sweep import (
    SweepFormScreen,
    SweepRequest,
    SweepRunScreen,
    SweepTableScreen,
)
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.sweeps import SweepProgress, SweepSpec
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, settle, until
from tests.sweep_helpers import two_model_server

SIZE = (160, 50)


@pytest.fixture
async def models_server(tmp_path: Path) -> AsyncIterator[GroveServer]:
    async with two_model_server(tmp_path) as server:
        yield server


async def exchange(screen: MainScreen) -> tuple[str, str]:
    forest = await screen.service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await screen.service.send(
        cid, "How do trees grow?", None, sampling=SamplingParams(max_tokens=6)
    )
    assert reply is not None
    return cid, reply.response_id


async def test_form_progress_table_and_compare(models_server: GroveServer) -> None:
    async with explorer(models_server.address, size=SIZE) as (app, pilot, screen):
        cid, reply_id = await exchange(screen)
        await settle(pilot)
        screen.thread.focus()
        assert screen.thread.focus_message(reply_id)
        await pilot.press("W")
        await until(pilot, lambda: isinstance(app.screen, SweepFormScreen), "sweep form")
        form = app.screen
        assert isinstance(form, SweepFormScreen)
        assert form.query_one("#sweep-models", Input).value == "alpha"
        # A bad axis is said in the form, which keeps what was typed.
        form.query_one("#sweep-models", Input).value = "alpha, beta"
        temperatures = form.query_one("#sweep-temperatures", Input)
        temperatures.value = "0.2, warm"
        form.query_one("#sweep-max-tokens", Input).value = "5"
        temperatures.focus()
        await pilot.press("enter")
        await pilot.pause()
        error = str(form.query_one("#sweep-error", Static).content)
        assert error == "temperatures takes numbers separated by commas, not ' warm'."
        assert app.screen is form
        temperatures.value = "0.2, 0.9"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SweepTableScreen), "results table")
        await settle(pilot)
        table_screen = app.screen
        assert isinstance(table_screen, SweepTableScreen)
        table = table_screen.query_one(DataTable)
        assert table.row_count == 4
        assert [str(table.get_row_at(i)[0]) for i in range(4)] == ["alpha", "alpha", "beta", "beta"]
        assert [str(table.get_row_at(i)[4]) for i in range(4)] == ["2", "2", "2", "2"]
        forest = screen.service.forest(cid)
        assert len(forest.children_of(forest.responses[reply_id].parent_id)) == 9
        # `s` sorts by the next column: model, then temperature.
        await pilot.press("s", "s")
        assert [str(table.get_row_at(i)[1]) for i in range(4)] == ["0.2", "0.2", "0.9", "0.9"]
        await pilot.press("S")
        assert [str(table.get_row_at(i)[1]) for i in range(4)] == ["0.9", "0.9", "0.2", "0.2"]
        summary = str(table_screen.query_one("#sweep-summary", Static).content)
        assert "8 samples made, 0 skipped (done before), 0 failed" in summary
        assert "Sorted by T, descending." in summary
        # Enter opens Compare on the samples of the cell under the cursor, the others hidden.
        cell = table_screen.rows[0]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "compare")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        await settle(pilot)
        assert compare.focused_id == cell.response_ids[0]
        assert sorted(c.response_id for c in compare.visible_columns) == sorted(cell.response_ids)
        assert len(compare.hidden) == 9 - len(cell.response_ids)
        status = str(compare.query_one("#compare-status").content)
        assert f"cell alpha · T 0.9 · top-p default: {len(cell.response_ids)} shown" in status
        assert f"{9 - len(cell.response_ids)} hidden (X shows them)" in status
        await pilot.press("X")
        await settle(pilot)
        assert len(compare.visible_columns) == 9 and not compare.hidden
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is table_screen, "back to the table")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the explorer")


async def test_a_failing_model_is_shown_per_cell(models_server: GroveServer) -> None:
    async with explorer(models_server.address, size=SIZE) as (app, pilot, screen):
        cid, reply_id = await exchange(screen)
        await settle(pilot)
        spec = SweepSpec(models=("alpha", "down"), max_tokens=4)
        run = SweepRunScreen(screen.service, cid, reply_id, SweepRequest(spec))
        await app.push_screen(run)
        await until(pilot, lambda: isinstance(app.screen, SweepTableScreen), "results table")
        await settle(pilot)
        assert run.progress == SweepProgress(done=2, total=2, failed=1, skipped=0)
        table_screen = app.screen
        assert isinstance(table_screen, SweepTableScreen)
        table = table_screen.query_one(DataTable)
        assert [str(table.get_row_at(i)[5]) for i in range(2)] == ["0", "1"], "failed"
        summary = str(table_screen.query_one("#sweep-summary", Static).content)
        assert "1 samples made, 0 skipped (done before), 1 failed." in summary
        assert "\ndown: " in summary, "the cell's error is shown"
        # Enter on a cell without samples says so and stays.
        table.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is table_screen
