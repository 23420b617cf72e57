"""What the thread paints stays the same while it does less per frame.

The thread places again only the children below the first one that changed (its layout,
`growing_layout`), and its scroll bar repaints only the rows that changed. These tests
compare both with what Textual itself gives: every child where Textual's vertical layout
puts it, and every scroll-bar row as a full repaint draws it, while a reply streams, when
a message in the middle changes height, when one is removed, and at another width.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.layouts.vertical import VerticalLayout
from textual.pilot import Pilot
from textual.widget import Widget

from grove_explorer.app.widgets.following_scroll import RowScrollBar
from grove_explorer.app.widgets.message_view import MessageView
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

SUMMARY = ConversationSummary(conversation_id="c1", title="t", starred=False)


def node(response_id: str, parent_id: str | None, sender: str, message: str) -> ResponseNode:
    return ResponseNode(
        response_id=response_id, parent_id=parent_id, sender=sender, message=message
    )


def chain(length: int) -> Forest:
    """Messages of different heights (a line to a dozen), people's and the model's."""
    nodes, parent = [], None
    for i in range(length):
        sender = "human" if i % 2 == 0 else "model"
        text = "\n\n".join(f"message {i} paragraph {k}" for k in range(1 + i % 6))
        nodes.append(node(f"r{i}", parent, sender, text))
        parent = f"r{i}"
    return Forest.build(SUMMARY, nodes, parent)


class ThreadApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadView()


def textual_places(view: ThreadView) -> dict[Widget, tuple[int, int, int, int]]:
    """Where Textual's own vertical layout puts the thread's children (no memory)."""
    children = [child for child in view.children if child.display]
    placements = VerticalLayout().arrange(view, children, view.scrollable_content_region.size)
    return {p.widget: tuple(p.region) for p in placements}


def placed(view: ThreadView) -> dict[Widget, tuple[int, int, int, int]]:
    """Where the thread's layout put its children (in its content, at the last layout)."""
    children = [child for child in view.children if child.display]
    return {child: tuple(child.virtual_region) for child in children}


async def check_places(view: ThreadView, pilot: Pilot[None]) -> None:
    await pilot.pause()
    view.app.screen._refresh_layout()  # a layout now, as the next frame would do
    assert placed(view) == textual_places(view)


def bar_column(app: App[None], bar: RowScrollBar) -> list[list[object]]:
    """The scroll bar's cells as the screen paints them (text and style per row)."""
    x = bar.region.x
    strips = app.screen._compositor.render_strips()
    return [list(strip.crop(x, x + bar.region.width)) for strip in strips]


async def test_children_are_placed_as_textual_places_them_while_a_reply_grows() -> None:
    app = ThreadApp()
    async with app.run_test(size=(90, 30)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(30))
        await view.begin_stream(node("live", "r29", "model", ""), (1, 1))
        await check_places(view, pilot)
        for k in range(25):
            view.append_tokens(f"word{k} " * 7 + ("\n\n" if k % 4 == 3 else ""))
            await check_places(view, pilot)


async def test_a_changed_message_in_the_middle_moves_the_ones_below() -> None:
    app = ThreadApp()
    async with app.run_test(size=(90, 30)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(20))
        await check_places(view, pilot)
        middle = [v for v in app.query(MessageView)][8]
        taller = node(middle.node.response_id, middle.node.parent_id, "model", "a\n\nb\n\nc\n\nd")
        middle.show(taller, middle.sibling)
        await check_places(view, pilot)
        middle.display = False  # hidden: the ones below move up
        await check_places(view, pilot)
        middle.display = True
        middle.styles.margin = (3, 0, 2, 0)  # a style change of one child
        await check_places(view, pilot)
        await middle.remove()
        await check_places(view, pilot)
        await pilot.resize_terminal(60, 30)  # another width: every height changes
        await check_places(view, pilot)


async def test_the_scroll_bar_paints_what_a_full_repaint_paints() -> None:
    app = ThreadApp()
    async with app.run_test(size=(90, 24)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(20))
        await view.begin_stream(node("live", "r19", "model", ""), (1, 1))
        await pilot.pause()
        bar = view.vertical_scrollbar
        assert isinstance(bar, RowScrollBar)
        columns = set()
        for k in range(40):
            view.append_tokens(f"growing text {k} " * 9 + "\n\n")
            await pilot.pause()
            await pilot.pause()
            painted = bar_column(app, bar)
            bar.refresh()  # Textual's way: every row again
            await pilot.pause()
            assert bar_column(app, bar) == painted, f"after append {k}"
            columns.add(repr(painted))
        assert len(columns) > 5  # the thumb did move
        assert view.scroll_y == view.max_scroll_y > 0


async def test_the_live_reply_paints_what_a_full_repaint_paints() -> None:
    """Only its changed lines are drawn again as text arrives: never a stale line."""
    reply = "\n\n".join(
        [
            "## A heading",
            "A paragraph that grows " + "word " * 40,
            "- an item\n- another item that wraps " + "long " * 30,
            "```python\nx = 1\n\ny = [i for i in range(3)]\n```",
            "1. one\n2. two",
            "---",
            "The end " + "of it " * 20,
        ]
    )
    app = ThreadApp()
    async with app.run_test(size=(70, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(3))
        await view.begin_stream(node("live", "r2", "model", ""), (1, 1))
        await pilot.pause()
        for start in range(0, len(reply), 9):
            view.append_tokens(reply[start : start + 9])
            await pilot.pause()
            live = view.live_reply
            assert live is not None
            painted = [list(strip) for strip in app.screen._compositor.render_strips()]
            live.refresh()  # Textual's way: every line again
            await pilot.pause()
            again = [list(strip) for strip in app.screen._compositor.render_strips()]
            assert painted == again, f"after {start + 9} characters"
