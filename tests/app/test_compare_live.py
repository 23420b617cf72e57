"""What the Compare screen's live columns paint (issue 13: they repaint only changed rows).

The live text and the header repaint only the rows that changed, so these tests read what
the screen's compositor paints (its cached lines included: a row not repainted when it
should be would show stale text) and compare it with the text as a whole would be drawn.
"""

from __future__ import annotations

import random

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import HorizontalScroll, Vertical
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from grove_explorer.app.diffing import WordCounter, words
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.compare import CompareScreen
from grove_explorer.app.widgets.live_lines import HeaderLines, LiveText, wrap_paragraphs
from grove_explorer.app.widgets.message_view import RenderedOnce
from grove_explorer.app.widgets.sample_column import SampleColumn, column_header
from grove_explorer.client.models import ResponseNode, SamplingInfo
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import conversation_with_siblings, open_compare
from tests.app_helpers import explorer

TEXT = (
    "Trees grow from the tips of their branches\tand roots.\n\nA forest is many trees, "
    "averyveryverylongwordthatmustfold and short words, then\nmore lines\n"
    "and the last paragraph, which keeps going for a while so the tail scrolls up."
)


def painted(app: App[None], widget: Widget) -> list[str]:
    """The rows of `widget`'s content region as the screen paints them now."""
    strips = app.screen._compositor.render_strips()
    region = widget.content_region
    return [strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom)]


class Holder(App[None]):
    CSS = "LiveText { width: 12; height: 4; } HeaderLines, Static { width: 38; }"

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self.widgets = widgets

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from self.widgets


async def test_live_text_paints_the_newest_lines_after_every_append() -> None:
    live = LiveText()
    async with Holder(live).run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        rng = random.Random(7)
        position = 0
        while position < len(TEXT):
            step = rng.randint(1, 9)
            live.append(TEXT[position : position + step])
            position += step
            await pilot.pause()
            lines = wrap_paragraphs(TEXT[:position].replace("\t", "    "), 12)
            tail = lines[-4:] + [""] * (4 - len(lines[-4:]))
            assert [row.rstrip() for row in painted(pilot.app, live)] == [
                line.rstrip() for line in tail
            ], f"after {position} characters"
        assert live.text == TEXT.replace("\t", "    ")


async def test_live_text_repaints_only_changed_rows_until_the_tail_moves() -> None:
    live = LiveText()
    async with Holder(live).run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        live.append("one two")
        await pilot.pause()
        live.append(" six")  # the same line: only its row is repainted
        assert set(live._repaint_regions) == {Region(0, 0, 12, 1)}
        await pilot.pause()
        assert painted(pilot.app, live)[0].rstrip() == "one two six"
        live.append(" more words and more")  # new lines below: rows 0..2
        assert set(live._repaint_regions) == {Region(0, 0, 12, 3)}
        await pilot.pause()
        assert [r.rstrip() for r in painted(pilot.app, live)[:3]] == [
            "one two six",
            "more words",
            "and more",
        ]


class Row(App[None]):
    CSS = "LiveText, HeaderLines { width: 12; } LiveText { height: 4; }"

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self.widgets = widgets

    def compose(self) -> ComposeResult:
        with HorizontalScroll():
            yield from self.widgets


async def test_a_live_text_scrolled_out_of_view_is_painted_when_it_comes_back() -> None:
    columns = [LiveText() for _ in range(3)]
    async with Row(*columns).run_test(size=(20, 8)) as pilot:
        await pilot.pause()
        app = pilot.app
        row = app.query_one(HorizontalScroll)
        hidden = columns[2]
        hidden.append("first words shown")
        for x in (row.max_scroll_x, 0):  # painted once, then scrolled out of view
            row.scroll_to(x=x, animate=False, immediate=True)
            await pilot.pause()
            await pilot.pause()
        assert hidden not in app.screen._compositor.visible_widgets
        text = "first words shown" + TEXT
        for index in range(0, len(TEXT), 5):
            hidden.append(TEXT[index : index + 5])
            columns[0].append(TEXT[index : index + 5])
            await pilot.pause()
        expected = [line.rstrip() for line in wrap_paragraphs(text.replace("\t", "    "), 12)]
        row.scroll_to(x=row.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        await pilot.pause()
        assert hidden in app.screen._compositor.visible_widgets
        assert [r.rstrip() for r in painted(app, hidden)] == expected[-4:]


async def test_a_header_scrolled_out_of_view_is_painted_when_it_comes_back() -> None:
    headers = [HeaderLines(Text(f"column {i}\n0 words")) for i in range(3)]
    async with Row(*headers).run_test(size=(20, 8)) as pilot:
        await pilot.pause()
        app = pilot.app
        row = app.query_one(HorizontalScroll)
        hidden = headers[2]
        for x in (row.max_scroll_x, 0):  # painted once, then scrolled out of view
            row.scroll_to(x=x, animate=False, immediate=True)
            await pilot.pause()
            await pilot.pause()
        assert hidden not in app.screen._compositor.visible_widgets
        for count in range(1, 12):
            hidden.show(Text(f"column 2\n{count} words"))
            await pilot.pause()
        row.scroll_to(x=row.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        await pilot.pause()
        assert [r.rstrip() for r in painted(app, hidden)] == ["column 2", "11 words"]


async def test_header_lines_paint_the_header_as_it_changes() -> None:
    node = ResponseNode(
        response_id="pending:1",
        parent_id="p",
        sender="model",
        message="",
        streaming=True,
        sampling=SamplingInfo(temperature=0.8, max_tokens=70, seed=7),
    )
    header = HeaderLines(column_header(node, (1, 2), streaming=True))
    async with Holder(header).run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        for tokens, count in ((3, 2), (40, 31), (41, 31)):
            text = column_header(node, (1, 2), streaming=True, tokens=tokens, words=count)
            header.show(text)
            await pilot.pause()
            assert [r.rstrip() for r in painted(pilot.app, header)] == text.plain.split("\n")
        # A line too long for the width wraps: one more row, laid out again.
        text = column_header(node, (1, 2), streaming=True, tokens=10**12, words=10**12)
        header.show(text)
        await pilot.pause()
        rows = [r.rstrip() for r in painted(pilot.app, header)]
        assert len(rows) == len(text.plain.split("\n")) + 1
        assert rows[1] + " " + rows[2] == text.plain.split("\n")[1]
        # More lines (a finished sample's timings), then fewer again.
        done = node.model_copy(
            update={"streaming": False, "message": "a b", "token_count": 2, "mean_logprob": -1.5}
        )
        text = column_header(done, (1, 2))
        header.show(text)
        await pilot.pause()
        assert [r.rstrip() for r in painted(pilot.app, header)] == text.plain.split("\n")
        text = column_header(node, (2, 2), streaming=True)
        header.show(text)
        await pilot.pause()
        assert [r.rstrip() for r in painted(pilot.app, header)] == text.plain.split("\n")
        assert [line.plain for line in header.drawn] == text.plain.split("\n")


async def test_header_lines_draw_exactly_what_a_static_draws() -> None:
    node = ResponseNode(
        response_id="r1",
        parent_id="p",
        sender="model",
        message="Some words [b]here[/b]",
        token_count=9,
        model_name="a-model-with-a-rather-long-name-that-wraps",
        sampling=SamplingInfo(temperature=0.8, max_tokens=70, seed=7),
        mean_logprob=-0.25,
        partial=True,
    )
    header = column_header(node, (3, 4), same=0.5)
    lines, static = HeaderLines(header), Static(header, markup=False)
    async with Holder(lines, static).run_test(size=(40, 30)) as pilot:
        await pilot.pause()
        strips = pilot.app.screen._compositor.render_strips()

        def rows(widget: Widget) -> list[list[tuple[str, object]]]:
            region = widget.region
            return [
                [(seg.text, seg.style) for seg in strips[y].crop(region.x, region.right)]
                for y in range(region.y, region.bottom)
            ]

        assert lines.region.height == static.region.height > len(header.plain.split("\n"))
        assert rows(lines) == rows(static)


async def test_a_finished_body_draws_its_markdown_as_a_static_would() -> None:
    from rich.markdown import Markdown

    source = (
        "# Trees\n\nSome *words* and `code`, a list:\n\n- one\n- two and a long item "
        "that has to wrap\n\n```python\nprint('x')\n```\n\n> quoted text"
    )
    plain, cached = Static(Markdown(source, hyperlinks=False)), RenderedOnce()
    cached.update(Markdown(source, hyperlinks=False))
    async with Holder(plain, cached).run_test(size=(40, 60)) as pilot:
        await pilot.pause()
        strips = pilot.app.screen._compositor.render_strips()

        def rows(widget: Widget) -> list[list[tuple[str, object]]]:
            region = widget.region
            return [
                [(seg.text, seg.style) for seg in strips[y].crop(region.x, region.right)]
                for y in range(region.y, region.bottom)
            ]

        assert cached.region.height == plain.region.height > 8
        assert rows(cached) == rows(plain)


async def test_streaming_column_header_counts_words_and_tokens_as_drawn() -> None:
    node = ResponseNode(
        response_id="pending:1", parent_id="p", sender="model", message="", streaming=True
    )
    column = SampleColumn(node, (1, 1))
    async with Holder(column).run_test(size=(60, 40)) as pilot:
        await pilot.pause()
        for piece in ("Hello wor", "ld, and\n", "more\t", " words [b]x[/b]"):
            column.append(piece, 1)
            column.flush()
        await pilot.pause()
        assert column.text == "Hello world, and\nmore\t words [b]x[/b]"
        assert column.body.plain == column.text
        assert "6 words · 4 tokens · streaming…" in column.header.plain
        assert column.node.message == "", "the placeholder is not copied per flush"


def test_word_counter_matches_words_of_the_whole_text() -> None:
    rng = random.Random(3)
    alphabet = "ab \n\t."
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        counter = WordCounter()
        position = 0
        while position < len(text):
            step = rng.randint(1, 6)
            counter.feed(text[position : position + step])
            position += step
        assert counter.count == len(words(text)), repr(text)


class Dialog(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static("a dialog")


async def test_an_opaque_screen_hides_the_explorer_a_dialog_does_not(
    server: GroveServer,
) -> None:
    async with explorer(server.address, size=(140, 40)) as (app, pilot, screen):
        assert isinstance(app, GroveApp)
        _, siblings = await conversation_with_siblings(screen)
        compare = await open_compare(pilot, screen, siblings[0])
        assert isinstance(compare, CompareScreen)
        # Covered by Compare, the explorer neither lays out nor paints.
        assert app._background_screens == []
        assert not screen.is_current and compare.is_current
        app.push_screen(Dialog())
        await pilot.pause()
        assert app._background_screens == [compare], "a dialog shows what is under it"
        app.pop_screen()
        await pilot.pause()
        compare.dismiss(None)
        await pilot.pause()
        assert app.screen is screen and screen.is_current
