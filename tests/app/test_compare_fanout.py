"""Fan-out in Compare (issue 15): a batch across several models, k samples each, columns
marked by model colour, the explorer's count prefix, and 16 columns scrolled into view.

Driven through the pilot against a real server offering two offline models ("alpha", the
default, and "beta")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, SelectionList

from grove_explorer.app.screens.compare import CompareScreen, FanOut, SamplingScreen
from grove_explorer.app.screens.compare.fanout import PALETTE, CompareSession
from grove_explorer.app.screens.compare.sampling_form import parse_fan_out
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.client.events import ResponseAdded, ResponseCompleted, TokensAppended
from grove_explorer.client.models import LiveResponseNode, ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.offline import OfflineSampler
from tests.app_helpers import explorer, settle, until

SIZE = (160, 50)
SMALL = SamplingParams(max_tokens=6)


@pytest.fixture
async def two_models(tmp_path: Path) -> AsyncIterator[GroveServer]:
    """alpha (the default) and beta: the offline model under two names."""
    config = ServerConfig(host="127.0.0.1", port=0, db=tmp_path / "grove.sqlite3")
    samplers = {
        "alpha": OfflineSampler(model_name="alpha"),
        "beta": OfflineSampler(model_name="beta"),
    }
    server = GroveServer(config, samplers=samplers, default_model="alpha")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def conversation(screen: MainScreen) -> tuple[str, str]:
    """A conversation with one exchange; returns its id and the reply's id."""
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "How do trees grow in a forest?", None, sampling=SMALL)
    assert reply is not None
    return cid, reply.response_id


async def open_compare(
    pilot: Pilot, screen: MainScreen, reply_id: str, *keys: str
) -> CompareScreen:
    """Focuses the reply in the thread and presses `keys` (default `c`)."""
    await settle(pilot)
    screen.thread.focus()
    assert screen.thread.focus_message(reply_id)
    await pilot.press(*(keys or ("c",)))
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), "compare screen")
    compare = pilot.app.screen
    assert isinstance(compare, CompareScreen)
    return compare


async def open_form(pilot: Pilot, compare: CompareScreen) -> SamplingScreen:
    await pilot.press("p")
    await until(pilot, lambda: isinstance(pilot.app.screen, SamplingScreen), "params form")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, SamplingScreen)
    return form


def status(compare: CompareScreen) -> str:
    return str(compare.query_one("#compare-status").content)


# -- the form's rules ------------------------------------------------------------------------


def test_parse_fan_out_reads_samples_and_models() -> None:
    assert parse_fan_out("3", ["a", "b", "a"], offered=True) == FanOut(("a", "b"), 3)
    assert parse_fan_out("", ["a"], offered=True) == FanOut(("a",), 4), "empty: the default"
    assert parse_fan_out("2", [], offered=False) == FanOut((), 2), "no list offered"
    with pytest.raises(ValueError, match=r"^samples must be a whole number from 1 to 16"):
        parse_fan_out("many", ["a"], offered=True)
    with pytest.raises(ValueError, match=r"^samples must be between 1 and 16, not 0"):
        parse_fan_out("0", ["a"], offered=True)
    with pytest.raises(ValueError, match=r"^models: pick at least one"):
        parse_fan_out("2", [], offered=True)
    with pytest.raises(ValueError, match=r"3 models x 6 = 18 is over 16 per batch; at most 5"):
        parse_fan_out("6", ["a", "b", "c"], offered=True)


def test_form_offers_the_catalog_and_a_chosen_model_it_no_longer_lists() -> None:
    form = SamplingScreen(None, ["alpha", "beta"], ["gone", ""])
    assert form._models == ["alpha", "beta", "gone"], "no blank entry for an unnamed model"
    assert form._chosen == ["gone"]
    assert SamplingScreen(None, ["alpha", "beta"], [""])._chosen == ["alpha"]


def test_session_colours_are_stable_and_distinct() -> None:
    session = CompareSession()
    alpha, beta = session.colour("alpha"), session.colour("beta")
    assert alpha != beta and {alpha, beta} <= set(PALETTE)
    assert session.colour("alpha") == alpha, "the same model keeps its colour"
    legend = session.legend(["alpha", "beta", "alpha", ""])
    assert legend.plain == "■ alpha x2  ■ beta x1  ■ (default model) x1"
    assert FanOut(("alpha", "beta"), 2).describe() == "2 x alpha + 2 x beta"
    assert FanOut(("a", "b", "c"), 9).capped(9) == (5, 15)


# -- the form in the app ---------------------------------------------------------------------


async def test_form_picks_two_models_and_k_each_then_r_fans_out(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        _, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id)
        form = await open_form(pilot, compare)
        assert form.chosen_models == ["alpha"], "the conversation's model is ticked"
        # Keyboard only: Tab from the first field to the list, tick beta, set k = 2.
        samples = form.query_one("#param-samples", Input)
        models = form.query_one("#param-models", SelectionList)
        while not models.has_focus:
            await pilot.press("tab")
        await pilot.press("down", "space")
        assert form.chosen_models == ["alpha", "beta"]
        samples.value = "2"
        form.query_one("#param-max_tokens", Input).value = "6"
        # Ctrl+S uses the form from any field, the model list included (Space ticks there).
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is compare, "the form to close")
        assert compare.fan_out == FanOut(("alpha", "beta"), 2)
        assert "R samples 2 x alpha + 2 x beta" in status(compare)
        await pilot.press("R")
        await settle(pilot)
        columns = compare.columns
        assert len(columns) == 5, [c.header.plain for c in columns]
        new = columns[1:]
        assert [c.node.model_name for c in new] == ["alpha", "alpha", "beta", "beta"]
        assert all(not c.streaming and c.node.token_count for c in new)
        colour = {c.node.model_name: c.model_colour for c in columns}
        assert len(set(colour.values())) == 2 and None not in colour.values()
        for column in columns:
            assert column.model_colour == colour[column.node.model_name]
            assert column.styles.border_left[1].hex.lower() == column.model_colour.lower()
            assert column.node.model_name in str(column.border_title)
            # The header draws the model's name in its colour.
            spans = [s for s in column.header.spans if column.model_colour in str(s.style)]
            assert spans and column.header.plain[spans[0].start : spans[0].end] == (
                column.node.model_name
            )
        assert "■ alpha x3  ■ beta x2" in status(compare)
        # The set is remembered for the session: a new Compare screen starts from it.
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "compare closed")
        again = await open_compare(pilot, screen, reply_id)
        assert again.fan_out == FanOut(("alpha", "beta"), 2)
        assert [c.model_colour for c in again.columns] == [
            colour[c.node.model_name] for c in again.columns
        ], "same model, same colour on every Compare screen"
        form = await open_form(pilot, again)
        assert form.chosen_models == ["alpha", "beta"]
        assert form.query_one("#param-samples", Input).value == "2"


async def test_form_refuses_bad_k_and_no_model(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        _, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id)
        form = await open_form(pilot, compare)
        samples = form.query_one("#param-samples", Input)
        models = form.query_one("#param-models", SelectionList)
        samples.value = "0"
        samples.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form, "a bad k keeps the form open"
        assert form.error.startswith("samples must be between 1 and 16, not 0.")
        assert samples.has_class("-invalid") and samples.has_focus
        assert not models.has_class("-invalid")
        # None picked: said about the list, which gets the focus.
        samples.value = "3"
        models.deselect_all()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        assert form.error == "models: pick at least one (Space ticks the highlighted model)."
        assert models.has_class("-invalid") and models.has_focus
        assert not samples.has_class("-invalid")
        # Too many in all: said on the samples field.
        models.select_all()
        samples.value = "9"
        samples.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "2 models x 9 = 18 is over 16 per batch; at most 8 each." in form.error
        assert compare.fan_out == FanOut(), "nothing changed while the form was wrong"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is compare, "form cancelled")
        assert compare.fan_out == FanOut()


# -- the explorer's count prefix -------------------------------------------------------------


async def test_count_prefix_in_the_explorer_samples_that_many(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        _, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id, "8", "R")
        await settle(pilot)
        assert len(compare.columns) == 9
        assert all(c.node.model_name == "alpha" for c in compare.columns)
        # With a two-model set chosen, the count is per model: 3R samples 3 + 3.
        compare.fan_out = compare.session.fan_out = FanOut(("alpha", "beta"), 2)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "compare closed")
        compare = await open_compare(pilot, screen, reply_id, "3", "R")
        await settle(pilot)
        models = [c.node.model_name for c in compare.columns]
        assert models.count("beta") == 3 and models.count("alpha") == 12
        # R without a count: the samples per model of the set (2 each), not a fixed 4.
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "compare closed")
        compare = await open_compare(pilot, screen, reply_id, "R")
        await settle(pilot)
        models = [c.node.model_name for c in compare.columns]
        assert models.count("beta") == 5 and models.count("alpha") == 14


async def test_a_count_over_the_batch_limit_is_lowered_and_said(two_models: GroveServer) -> None:
    async with explorer(two_models.address, size=SIZE) as (app, pilot, screen):
        _, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id, "2", "0", "R")
        await settle(pilot)
        assert len(compare.columns) == 1 + 16
        said = [str(n.message) for n in app._notifications]
        assert any("16" in message and "20" in message for message in said), said


# -- 16 columns ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(160, 50), (100, 30)])
async def test_sixteen_columns_scroll_with_the_focus(
    two_models: GroveServer, size: tuple[int, int]
) -> None:
    async with explorer(two_models.address, size=size) as (_, pilot, screen):
        _, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id)
        compare.sampling = SMALL
        compare.fan_out = FanOut(("alpha", "beta"), 8)
        await pilot.press("R")
        await settle(pilot)
        columns = compare.visible_columns
        assert len(columns) == 17
        row = compare.row
        assert row.max_scroll_x > 0, "16 columns are wider than the screen"
        shown = status(compare)
        assert "columns 1-" in shown and " of 17 (←/→ move)" in shown, shown
        # Move to the last column: it is scrolled into view and the indicator follows.
        await pilot.press("end")  # scrolls down only; the row keeps its horizontal place
        for _ in range(16):
            await pilot.press("l")
        await pilot.pause()
        await settle(pilot)
        last = columns[-1]
        assert compare.focused_id == last.response_id
        view = row.scroll_offset.x, row.scroll_offset.x + row.scrollable_content_region.width
        assert view[0] <= last.virtual_region.x and last.virtual_region.right <= view[1] + 1
        assert "of 17 (←/→ move)" in status(compare) and "-17 of 17" in status(compare)
        # And back to the first.
        for _ in range(16):
            await pilot.press("h")
        await settle(pilot)
        assert row.scroll_offset.x == 0
        assert "columns 1-" in status(compare)


async def test_columns_out_of_view_are_drawn_when_scrolled_in(two_models: GroveServer) -> None:
    """Streamed text of columns scrolled out of view waits; it is drawn once they are seen.

    Sixteen placeholders are published as the service would (ResponseAdded, then tokens),
    so they stay streaming for as long as the test needs.
    """
    async with explorer(two_models.address, size=(100, 30)) as (_, pilot, screen):
        cid, reply_id = await conversation(screen)
        compare = await open_compare(pilot, screen, reply_id)
        service = screen.service
        forest = service.forest(cid)
        parent = forest.responses[reply_id].parent_id
        ids = [f"pending:test{i}" for i in range(16)]
        for rid in ids:
            node = LiveResponseNode(
                response_id=rid,
                parent_id=parent,
                sender="model",
                message="",
                model_name="beta",
                streaming=True,
            )
            forest.add(node)
            service._publish(ResponseAdded(cid, node))
        await until(pilot, lambda: len(compare.columns) == 17, "16 live columns")
        await settle(pilot)
        for rid in ids:
            service._publish(TokensAppended(cid, rid, "Roots drink ", ()))
        first, last = compare.column(ids[0]), compare.column(ids[-1])
        assert first is not None and last is not None
        await until(pilot, lambda: "2 words" in first.header.plain, "the column in view drawn")
        assert not first.has_pending
        await until(pilot, lambda: last.text == "Roots drink ", "the tokens of the last column")
        await pilot.pause()
        await until(pilot, lambda: not compare.drawing.dirty, "a flush")
        assert last.has_pending and "0 words" in last.header.plain, "out of view: waits"
        assert last.text == "Roots drink ", "its text is known all the same"
        for _ in range(16):
            await pilot.press("l")
        await until(pilot, lambda: "2 words" in last.header.plain, "the last column drawn")
        assert not last.has_pending
        # The first column scrolled out: new text for it waits now.
        service._publish(TokensAppended(cid, ids[0], "and rain.", ()))
        service._publish(TokensAppended(cid, ids[-1], "and rain.", ()))
        await until(pilot, lambda: "4 words" in last.header.plain, "the last column again")
        await until(pilot, lambda: first.text.endswith("rain."), "the first column's tokens")
        await until(pilot, lambda: not compare.drawing.dirty, "a flush")
        assert first.has_pending and "2 words" in first.header.plain
        # Finished out of view: the body is drawn once seen; in view: at once.
        for rid, stored in ((ids[0], "done-first"), (ids[-1], "done-last")):
            node = ResponseNode(
                response_id=stored,
                parent_id=parent,
                sender="model",
                message="Roots drink **rain**.",
                model_name="beta",
                token_count=4,
            )
            forest.remove(rid)
            forest.add(node)
            service._publish(ResponseCompleted(cid, rid, node))
        await until(pilot, lambda: compare.column("done-last") is last, "the last re-keyed")
        await until(pilot, lambda: compare.column("done-first") is first, "the first re-keyed")
        await until(pilot, lambda: not last.undrawn, "the last column's finished body")
        assert not last.streaming and last.query_one(".sample-body").display
        assert first.undrawn and not first.query_one(".sample-body").display
        assert "done-first" in compare.drawing.offscreen
        assert first.text == "Roots drink **rain**.", "its text is the stored one already"
        for _ in range(16):
            await pilot.press("h")
        await until(pilot, lambda: not first.undrawn, "the first column drawn in view")
        assert first.query_one(".sample-body").display
        assert not first.query_one(".sample-live").display
        for rid in ids[1:-1]:  # let the screen forget the rest before the app closes
            forest.remove(rid)
