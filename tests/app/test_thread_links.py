"""Links in finished messages: drawn as "text (url)", and a click asks the screen to open.

The target never becomes part of an action (a click names the link by its index), the
drawing is Rich's own, and the reply being streamed keeps links inert until it is a
finished message.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from grove_explorer.app.widgets.message_view import MessageView
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

SUMMARY = ConversationSummary(conversation_id="c1", title="t", starred=False)
TEXT = (
    "Read [the docs](https://example.com/a%20b) first.\n\n"
    "Then [this one](ftp://files.test/f) and plain words."
)


def node(response_id: str, parent_id: str | None, sender: str, message: str) -> ResponseNode:
    return ResponseNode(
        response_id=response_id, parent_id=parent_id, sender=sender, message=message
    )


def forest(*messages: tuple[str, str]) -> Forest:
    nodes, parent = [], None
    for k, (sender, text) in enumerate(messages):
        nodes.append(node(f"r{k}", parent, sender, text))
        parent = f"r{k}"
    return Forest.build(SUMMARY, nodes, parent)


class ThreadApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def compose(self) -> ComposeResult:
        yield ThreadView()

    def on_thread_view_link_requested(self, message: ThreadView.LinkRequested) -> None:
        self.links.append(message.href)


def find(view: MessageView, words: str) -> tuple[int, int]:
    """Where `words` are drawn in `view` (widget offset of their middle)."""
    width, height = view.size
    for y, strip in enumerate(view.render_lines(Region(0, 0, width, height))):
        x = strip.text.find(words)
        if x >= 0:
            return x + len(words) // 2, y
    raise AssertionError(f"{words!r} not drawn")


async def click(pilot: Pilot[None], view: MessageView, words: str) -> None:
    x, y = find(view, words)
    await pilot.click(view, offset=(x, y))
    await pilot.pause()


async def test_clicking_a_link_in_a_finished_message_asks_to_open_its_target() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        thread = app.query_one(ThreadView)
        await thread.show_path(forest(("human", "question"), ("model", TEXT)))
        await pilot.pause()
        view = list(app.query(MessageView))[-1]
        drawn = "\n".join(s.text for s in view.render_lines(Region(0, 0, *view.size)))
        assert "the docs (https://example.com/a%20b) first." in drawn
        await click(pilot, view, "the docs")
        assert app.links == ["https://example.com/a%20b"]
        await click(pilot, view, "https://example.com/a%20b")  # the target drawn too
        await click(pilot, view, "plain words")
        assert app.links == ["https://example.com/a%20b"] * 2
        await click(pilot, view, "this one")  # the screen decides what opens
        assert app.links[-1] == "ftp://files.test/f"
        assert thread.focused_response_id == "r1"  # the click also put the cursor there


async def test_a_person_s_text_has_no_links() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        thread = app.query_one(ThreadView)
        await thread.show_path(forest(("human", TEXT)))
        await pilot.pause()
        view = app.query_one(MessageView)
        await click(pilot, view, "the docs")
        assert app.links == []


async def test_a_streamed_reply_s_links_are_clickable_once_finished() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        thread = app.query_one(ThreadView)
        await thread.show_path(forest(("human", "question")))
        await thread.begin_stream(node("live", "r0", "model", ""), (1, 1))
        thread.append_tokens(TEXT)
        await pilot.pause()
        live = thread.live_reply
        assert live is not None
        await pilot.click(live, offset=find_live(live, "the docs"))
        await pilot.pause()
        assert app.links == []  # streaming: inert
        await thread.end_stream(node("m", "r0", "model", TEXT))
        await pilot.pause()
        view = list(app.query(MessageView))[-1]
        await click(pilot, view, "the docs")
        assert app.links == ["https://example.com/a%20b"]


def find_live(live: object, words: str) -> tuple[int, int]:
    from grove_explorer.app.widgets.live_reply import LiveReply

    assert isinstance(live, LiveReply)
    for y in range(live.size.height):
        x = live.render_line(y).text.find(words)
        if x >= 0:
            return x + 2, y
    raise AssertionError(f"{words!r} not drawn")
