"""The reply being streamed, as the user sees it: read back from what the screen paints.

These tests look only at painted text (the screen's strips) and at the thread's scroll
position, so they hold whatever widgets draw the reply: text in order, Markdown drawn
(no `##`, `**` or fences left), following scroll, inert untrusted text, and the reply
drawn while streaming as it is once finished.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from grove_explorer.app.safe_text import clean
from grove_explorer.app.widgets.thread_view import LiveReply, ThreadView
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

SUMMARY = ConversationSummary(conversation_id="c1", title="t", starred=False)
EVIL = "[@click=app.quit]x[/b] [TODO] \x1b[2J \x1b]0;title\x07 \x1b]52;c;ZXZpbA==\x07"

REPLY = "\n\n".join(
    [
        "## Alpha heading",
        "Bravo paragraph with **charlie bold** and `delta code` words.",
        "- echo item one\n- foxtrot item two",
        "```python\ngolf = 1\n\nhotel = 2\n```",
        "1. india first\n2. juliet second",
        "---",
        "Kilo closing paragraph ends here.",
    ]
)
IN_ORDER = [
    "Alpha heading",
    "Bravo paragraph with charlie bold and delta code words.",
    "echo item one",
    "foxtrot item two",
    "golf = 1",
    "hotel = 2",
    "india first",
    "juliet second",
    "Kilo closing paragraph ends here.",
]


def node(
    response_id: str,
    parent_id: str | None,
    sender: str = "model",
    message: str = "",
    **extra: object,
) -> ResponseNode:
    return ResponseNode(
        response_id=response_id, parent_id=parent_id, sender=sender, message=message, **extra
    )


def chain(length: int) -> Forest:
    nodes = []
    parent = None
    for i in range(length):
        sender = "human" if i % 2 == 0 else "model"
        nodes.append(node(f"r{i}", parent, sender, f"message {i}\n\nsome **bold** text"))
        parent = f"r{i}"
    return Forest.build(SUMMARY, nodes, parent)


class ThreadApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadView()


def screen_lines(app: App[None]) -> list[str]:
    """The text the screen paints, line by line."""
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def screen_text(app: App[None]) -> str:
    return "\n".join(screen_lines(app))


def fragments(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def assert_in_order(text: str, words: list[str]) -> None:
    position = 0
    for word in words:
        found = text.find(word, position)
        assert found >= 0, f"{word!r} missing after position {position}:\n{text}"
        position = found + len(word)


async def stream(
    app: ThreadApp, pilot: Pilot[None], reply: str, *, size: int, pause_every: int = 1
) -> None:
    view = app.query_one(ThreadView)
    for k, piece in enumerate(fragments(reply, size)):
        view.append_tokens(piece)
        if k % pause_every == 0:
            await pilot.pause()
    live = view.live_reply
    assert live is not None
    await live.finish()
    await pilot.pause()
    await pilot.pause()


async def test_streamed_reply_is_painted_in_order_as_markdown() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 80)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        await stream(app, pilot, REPLY, size=5)
        text = screen_text(app)
        assert_in_order(text, ["message 0", "message 1", "streaming…", *IN_ORDER])
        # Markdown is drawn, not shown as source (the human message above is literal).
        text = text[text.index("streaming…") :]
        for source in ("##", "**", "```", "`delta"):
            assert source not in text
        assert "• echo item one" in text and "1 india first" in text.replace(".", "")


async def test_reply_partly_drawn_while_streaming_shows_its_text_so_far() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 80)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        half = REPLY.index("```python")
        for piece in fragments(REPLY[:half], 9):
            view.append_tokens(piece)
            await pilot.pause()
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert_in_order(text, IN_ORDER[:4])
        assert "golf" not in text


async def test_a_long_reply_follows_to_the_bottom_and_shows_its_last_words() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(20))
        await pilot.pause()
        await view.begin_stream(node("live", "r19", streaming=True), (1, 1))
        reply = "\n\n".join(f"Paragraph number {i} of the long reply." for i in range(60))
        await stream(app, pilot, reply, size=23, pause_every=3)
        assert view.scroll_y == view.max_scroll_y > 0
        lines = [line for line in screen_lines(app) if line.strip()]
        assert "Paragraph number 59 of the long reply." in lines[-1]
        assert_in_order(screen_text(app), [f"Paragraph number {i} " for i in range(52, 60)])


async def test_untrusted_streamed_text_is_painted_literally() -> None:
    app = ThreadApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        await stream(app, pilot, EVIL + "\n\n" + EVIL + "\n\nend", size=7)
        text = screen_text(app)
        assert text.count("[@click=app.quit]x[/b] [TODO]") == 2
        assert "\x1b" not in text and "\x07" not in text
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                style = segment.style
                assert style is None or not style.link
                assert style is None or "@click" not in style.meta
        assert app.query_one(ThreadView).live_text == clean(EVIL + "\n\n" + EVIL + "\n\nend")


async def test_the_reply_looks_the_same_streaming_and_finished() -> None:
    """No jump when the stream ends: the finished message draws the same body lines."""
    app = ThreadApp()
    async with app.run_test(size=(100, 80)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        await stream(app, pilot, REPLY, size=11)
        live = view.live_reply
        assert isinstance(live, LiveReply)
        top, height = live.region.y, live.region.height
        streaming = screen_lines(app)[top + 1 : top + height - 1]
        await view.end_stream(node("m", "r1", message=REPLY))
        await pilot.pause()
        await pilot.pause()
        finished = screen_lines(app)[top + 1 : top + height - 1]
        assert streaming == finished
        assert "streaming…" not in screen_text(app)


def test_markdown_renderable_draws_as_rich_markdown_does() -> None:
    """Messages are parsed by one shared parser: drawn exactly as Rich's own Markdown."""
    from rich.console import Console
    from rich.markdown import Markdown as RichMarkdown

    from grove_explorer.app.widgets.message_view import markdown_renderable

    text = REPLY + "\n\n| a | b |\n|---|---|\n| ~~c~~ | [d](http://e.test/) |\n\n> quote *em*"
    drawings = []
    for renderable in (markdown_renderable(text), RichMarkdown(text, hyperlinks=False)):
        console = Console(width=70, record=True, force_terminal=True, color_system="truecolor")
        console.print(renderable)
        drawings.append(console.export_text(styles=True))
    assert drawings[0] == drawings[1]


async def test_the_finished_message_reuses_the_streamed_lines_drawn_as_fresh() -> None:
    """The lines the live reply drew are handed to the finished message: the same lines."""
    from rich.console import Group

    from grove_explorer.app.widgets.message_view import MessageView, render_strips

    app = ThreadApp()
    async with app.run_test(size=(100, 80)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        await stream(app, pilot, REPLY, size=13)
        await view.end_stream(node("m", "r1", message=REPLY, token_count=42))
        await pilot.pause()
        finished = list(app.query(MessageView))[-1]
        width, style = finished.size.width, finished.visual_style
        drawn = finished.render()._lines(width, style)  # type: ignore[attr-defined]
        fresh = render_strips(finished, Group(finished.header, finished.body), width, style)
        assert [list(strip) for strip in drawn] == [list(strip) for strip in fresh]
        assert "42 tokens" in drawn[0].text
