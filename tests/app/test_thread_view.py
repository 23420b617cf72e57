"""ThreadView and MessageView: windowed static messages, one live streaming reply."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Markdown

from grove_explorer.app.safe_text import clean
from grove_explorer.app.widgets.message_view import MessageView, header_text
from grove_explorer.app.widgets.thread_view import (
    WINDOW,
    LiveReply,
    MoreMessages,
    ThreadView,
    finished_length,
)
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

EVIL = "[@click=app.quit]x[/b] [TODO] \x1b[2J \x1b]0;title\x07 \x1b]52;c;ZXZpbA==\x07"
SUMMARY = ConversationSummary(conversation_id="c1", title="t", starred=False)


def node(
    response_id: str, parent_id: str | None, sender: str = "model", message: str = "", **extra
) -> ResponseNode:
    return ResponseNode(
        response_id=response_id, parent_id=parent_id, sender=sender, message=message, **extra
    )


def chain(length: int, text: str = "message {i}\n\nsome **bold** text") -> Forest:
    """A straight path r0 … r{length-1}, alternating human and model."""
    nodes = []
    parent = None
    for i in range(length):
        sender = "human" if i % 2 == 0 else "model"
        nodes.append(node(f"r{i}", parent, sender, text.format(i=i)))
        parent = f"r{i}"
    return Forest.build(SUMMARY, nodes, parent)


def branched() -> Forest:
    """h0 → three model replies (the path takes the second) → h1; h1 also has a sibling."""
    nodes = [
        node("h0", None, "human", "hello"),
        node("m0a", "h0", message="first"),
        node("m0b", "h0", message="second", token_count=7),
        node("m0c", "h0", message="third"),
        node("h1", "m0b", "human", "follow up"),
        node("h1b", "m0b", "human", "other follow up"),
    ]
    return Forest.build(SUMMARY, nodes, "h1")


class ThreadApp(App[None]):
    """Composes only a ThreadView and records what it posts."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor_moves: list[str] = []
        self.links: list[str] = []
        self.opened: list[str] = []

    def compose(self) -> ComposeResult:
        yield ThreadView()

    def on_thread_view_message_focused(self, message: ThreadView.MessageFocused) -> None:
        self.cursor_moves.append(message.response_id)

    def on_thread_view_link_requested(self, message: ThreadView.LinkRequested) -> None:
        self.links.append(message.href)

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        self.opened.append(url)


def views(app: App[None]) -> list[MessageView]:
    return list(app.query(MessageView))


def rendered_text(widget: Widget) -> str:
    """What the widget draws, as text with styles, via Textual's own renderer."""
    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def test_show_path_renders_one_static_view_per_message_with_branch_headers() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(branched())
        await pilot.pause()
        shown = views(app)
        assert [v.response_id for v in shown] == ["h0", "m0b", "h1"]
        headers = [v.header.plain for v in shown]
        assert headers[0] == "You · h0", "a stored message ends with its short id"
        assert "branch 2/3" in headers[1]
        assert "7 tokens" in headers[1]
        assert "branch 1/2" in headers[2]
        assert shown[0].has_class("-human") and shown[1].has_class("-model")
        # Finished messages are single renderables, not Textual Markdown widget trees.
        assert not app.query(Markdown)
        assert all(not v.children for v in shown)
        assert isinstance(shown[1].body, RichMarkdown)
        assert shown[1].body.hyperlinks is False
        assert isinstance(shown[0].body, Text)


async def test_header_markers() -> None:
    manual = node("m", "h", message="x", manual=True, partial=True, shared=True, query="cats")
    plain = header_text(manual, (1, 1)).plain
    assert plain.startswith("Model")
    for marker in ("manual", "partial", "shared", "searching: cats"):
        assert marker in plain
    assert "branch" not in plain
    named = node("m", "h", message="x", model_name="grove-\x1b[31mmini", token_count=1)
    assert header_text(named, (3, 4)).plain == "grove-mini · branch 3/4 · 1 token · m"
    long_id = node("0123456789abcdef0123456789abcdef", None, message="x")
    assert header_text(long_id, (1, 1)).plain.endswith(" · 01234567"), "8 characters"
    assert "01234567" not in header_text(long_id, (1, 1), streaming=True).plain
    hostile = node("ab\x1b[31mcd", None, message="x")
    assert "\x1b" not in header_text(hostile, (1, 1)).plain, "an id from a file stays inert"


async def test_show_path_reuses_unchanged_views_when_switching_sibling() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        forest = chain(10)
        # Give the last message a sibling, then show the path through the first.
        forest.add(node("r9b", "r8", message="alternative"))
        forest.select("r9")
        await view.show_path(forest)
        await pilot.pause()
        before = {v.response_id: v for v in views(app)}
        forest.switch_sibling("r9", +1)
        await view.show_path(forest)
        await pilot.pause()
        after = views(app)
        assert [v.response_id for v in after] == [f"r{i}" for i in range(9)] + ["r9b"]
        assert all(after[i] is before[f"r{i}"] for i in range(9))
        assert "branch 2/2" in after[-1].header.plain
        # Showing the same path again changes nothing.
        await view.show_path(forest)
        await pilot.pause()
        assert all(a is b for a, b in zip(views(app), after, strict=True))


async def test_stream_appends_and_end_stream_swaps_in_a_static_view() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        forest = chain(4)
        forest.add(node("r4x", "r3", message="an earlier reply"))
        forest.select("r3")
        await view.show_path(forest)
        placeholder = node("live", "r3", streaming=True)
        await view.begin_stream(placeholder, (2, 2))
        live = view.live_reply
        assert isinstance(live, LiveReply)
        fragments = ["Hello", ", wor", "ld!\n\n", "- item", " one\n- item two\n"]
        for fragment in fragments:
            view.append_tokens(fragment)
        await pilot.pause()
        # No Textual Markdown widget in the DOM: the live reply is one line-based widget.
        assert not app.query(Markdown) and not live.children
        await live.finish()
        assert live.source == "".join(fragments)
        assert "branch 2/2" in live.header.plain and "streaming" in live.header.plain

        final = node("m-final", "r3", message="".join(fragments), partial=True, token_count=9)
        await view.end_stream(final)
        await pilot.pause()
        assert not app.query(Markdown)
        assert not app.query(LiveReply)
        last = views(app)[-1]
        assert last.response_id == "m-final"
        assert "partial" in last.header.plain and "branch 2/2" in last.header.plain
        # The forest catching up reuses every view.
        forest.add(final)
        forest.select("m-final")
        shown = views(app)
        await view.show_path(forest)
        await pilot.pause()
        assert all(a is b for a, b in zip(views(app), shown, strict=True))


async def test_tokens_sent_before_the_live_widget_mounts_are_kept() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        view.show_path(chain(2))
        view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        view.append_tokens("early ")
        view.append_tokens("bird")
        await pilot.pause()
        live = view.live_reply
        assert live is not None
        view.append_tokens(" sings")
        await live.finish()
        assert live.source == "early bird sings"


async def test_show_path_keeps_the_live_reply_and_remounts_it_after_looking_away() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        forest = chain(4)
        forest.add(node("r3b", "r2", message="sibling"))
        placeholder = node("live", "r3", streaming=True)
        forest.add(placeholder)
        forest.select("live")
        await view.show_path(forest)
        await view.begin_stream(placeholder, (1, 1))
        view.append_tokens("part one")
        await pilot.pause()
        # The placeholder on the path is drawn by the live widget, not a MessageView.
        assert [v.response_id for v in views(app)] == ["r0", "r1", "r2", "r3"]
        first_live = view.live_reply
        assert first_live is not None
        forest.switch_sibling("r3", +1)  # look at the other branch while streaming
        await view.show_path(forest)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.live_reply is None and not app.query(LiveReply)
        view.append_tokens(" and two")  # remembered while off screen
        forest.switch_sibling("r3b", -1)
        await view.show_path(forest)
        await pilot.pause()
        live = view.live_reply
        assert live is not None and live is not first_live
        await live.finish()
        assert live.source == "part one and two"


async def test_long_path_mounts_a_window_and_loads_earlier_messages() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(5000))
        await pilot.pause()
        assert len(view.children) <= WINDOW + 1
        assert len(views(app)) == WINDOW
        assert view.window == (5000 - WINDOW, 5000)
        earlier = view.query_one(MoreMessages)
        assert earlier.display and "4940 earlier messages" in str(earlier.render())

        # Scrolling to the very top mounts the previous window, keeping the view in place.
        first = views(app)[0]
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        await pilot.pause()
        assert view.window == (5000 - 2 * WINDOW, 5000)
        assert "4880 earlier messages" in str(earlier.render())
        # The message that was at the top (under the one-line "earlier" bar and its margin)
        # is still there: the new messages went above it, off screen.
        assert view.scroll_y > 0
        assert first.virtual_region.y - view.scroll_y == 2

        # The cursor jumping to the first message moves the window there.
        view.focus()
        await pilot.press("g")
        await pilot.pause()
        assert view.focused_response_id == "r0"
        assert view.window == (0, WINDOW)
        assert len(views(app)) == WINDOW
        assert views(app)[0].has_class("-focused")
        # … and back to the end.
        await pilot.press("G")
        await pilot.pause()
        assert view.focused_response_id == "r4999"
        assert view.window == (5000 - WINDOW, 5000)


async def test_clicking_the_earlier_line_loads_the_previous_window() -> None:
    app = ThreadApp()
    # Tall enough that the window fits without scrolling, so the line is on screen.
    async with app.run_test(size=(80, 200)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(WINDOW + 10, text="m{i}"))
        await pilot.pause()
        assert view.window == (10, WINDOW + 10)
        await pilot.click(MoreMessages)
        await pilot.pause()
        assert view.window == (0, WINDOW + 10)
        assert not view.query_one(MoreMessages).display


async def test_cursor_moves_post_message_focused_and_highlight() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(5))
        view.focus()
        await pilot.pause()
        await pilot.press("up")  # no cursor yet: starts on the last message
        await pilot.press("k")
        await pilot.press("k")
        await pilot.press("j")
        await pilot.press("home")
        await pilot.press("up")  # already first: nothing posted
        await pilot.press("end")
        await pilot.pause()
        assert app.cursor_moves == ["r4", "r3", "r2", "r3", "r0", "r4"]
        assert view.focused_index == 4
        focused = [v.response_id for v in views(app) if v.has_class("-focused")]
        assert focused == ["r4"]
        assert view.focus_message("r1") and view.focused_response_id == "r1"
        assert not view.focus_message("nope")
        view.move_focus(+10)
        assert view.focused_response_id == "r4"
        await pilot.pause()
        assert app.cursor_moves[-2:] == ["r1", "r4"]
        # Clicking a message puts the cursor on it.
        await pilot.click(views(app)[2])
        await pilot.pause()
        assert view.focused_response_id == "r2" and app.cursor_moves[-1] == "r2"


async def test_moving_the_window_away_while_streaming_keeps_the_reply() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(500))
        await view.begin_stream(node("live", "r499", streaming=True), (1, 1))
        view.append_tokens("before ")
        view.focus()
        await pilot.press("g")  # the window moves to the top: the live reply unmounts
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.window == (0, WINDOW)
        assert not app.query(LiveReply) and not app.query(Markdown)
        assert "440 later messages" in str(view.query(MoreMessages).last().render())
        view.append_tokens("during ")
        await pilot.press("G")
        await pilot.pause()
        live = view.live_reply
        assert live is not None and live.is_mounted
        view.append_tokens("after")
        await live.finish()
        assert live.source == "before during after"
        assert view.scroll_y == view.max_scroll_y


async def test_auto_scroll_follows_only_when_at_bottom() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(20))
        await pilot.pause()
        assert view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y
        await view.begin_stream(node("live", "r19", streaming=True), (1, 1))
        for i in range(30):
            view.append_tokens(f"line {i}\n\n")
        live = view.live_reply
        assert live is not None
        await pilot.pause()
        await pilot.pause()
        grown = view.max_scroll_y
        assert view.scroll_y == grown

        # The user scrolls up: new text must not pull them down.
        view.scroll_to(y=grown - 20, animate=False, immediate=True)
        await pilot.pause()
        assert not view.following
        for i in range(30):
            view.append_tokens(f"more {i}\n\n")
        await pilot.pause()
        await pilot.pause()
        assert view.max_scroll_y > grown
        assert view.scroll_y == grown - 20

        # Back at the bottom, following resumes.
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert view.following
        view.append_tokens("last\n\n" * 10)
        await live.finish()
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y


async def test_links_in_the_live_reply_are_drawn_as_text_and_open_nothing() -> None:
    """As in a finished message: "text (url)", no OSC 8 hyperlink, no click action."""
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        view.append_tokens("see [the docs](https://example.com/a%20b)\n")
        live = view.live_reply
        assert live is not None
        await live.finish()
        await pilot.pause()
        drawn = rendered_text(live)
        assert "the docs (https://example.com/a%20b)" in drawn
        strips = live.render_lines(Region(0, 0, *live.size))
        assert not any(seg.style.link for strip in strips for seg in strip if seg.style)
        await pilot.click(LiveReply, offset=(8, 1))
        await pilot.pause()
        assert app.links == [] and app.opened == []


async def test_untrusted_text_is_inert_finished_and_streaming() -> None:
    app = ThreadApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(ThreadView)
        nodes = [
            node("h", None, "human", EVIL),
            node("m", "h", message=EVIL, model_name=EVIL, query=EVIL),
        ]
        await view.show_path(Forest.build(SUMMARY, nodes, "m"))
        await view.begin_stream(node("live", "m", streaming=True), (1, 1))
        for piece in (EVIL[:20], EVIL[20:41], EVIL[41:]):
            view.append_tokens(piece)
        live = view.live_reply
        assert live is not None
        await live.finish()
        await pilot.pause()
        # What was fed to the live Markdown is the cleaned text.
        assert live.source == clean(EVIL)
        assert "\x1b" not in live.source and "\x07" not in live.source

        for message_view in views(app):
            drawn = rendered_text(message_view)
            assert "[TODO]" in drawn and "[@click=app.quit]x[/b]" in drawn
            assert "\x1b" not in drawn and "\x07" not in drawn
            strips = message_view.render_lines(Region(0, 0, *message_view.size))
            metas = [seg.style.meta for strip in strips for seg in strip if seg.style]
            assert not any("@click" in meta for meta in metas)
            # The renderable alone, through a plain Rich console, is clean too.
            console = Console(record=True, width=80, force_terminal=True)
            console.print(message_view.body)
            assert "[TODO]" in console.export_text()
            assert "\x1b]" not in console.export_text(styles=True)
            assert "\x1b[2J" not in console.export_text(styles=True)

        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg
        assert svg.count("[TODO]") >= 3  # human, model, live

        # Clicking the text runs no action; the app is still running.
        await pilot.click(MessageView)
        await pilot.click(LiveReply, offset=(3, 1))
        await pilot.pause()
        assert app.is_running and app.return_code is None


def test_finished_length_keeps_the_open_block() -> None:
    """Everything before the last top-level block is finished; the last one stays live."""
    assert finished_length("") == 0
    assert finished_length("one paragraph\nstill going") == 0
    assert finished_length("para\n\nnext") == len("para\n\n")
    # Blank lines inside an unclosed fence, or between loose list items, end nothing.
    assert finished_length("```py\na = 1\n\nb = 2\n") == 0
    assert finished_length("- a\n\n- b\n\n") == 0
    # "Para" over a lone "-" is a heading until the list item shows: one block.
    assert finished_length("x\n\nPara\n-") == len("x\n\n")
    assert finished_length("x\n\nPara\n- item") == len("x\n\nPara\n")
    # A header row turns into a table when the delimiter row arrives: one block.
    assert finished_length("| a | b |\n|---|") == 0


REPLY_BLOCKS = [
    "## Heading",
    "First paragraph with **bold** text.",
    "- item one\n- item two",
    "```python\nx = 1\n\ny = 2\n```",
    "1. first\n2. second",
    "Last paragraph still streaming",
]


async def test_live_reply_parses_only_its_open_block_again() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 60)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        text = "\n\n".join(REPLY_BLOCKS)
        for start in range(0, len(text), 7):
            view.append_tokens(text[start : start + 7])
            await pilot.pause()
        live = view.live_reply
        assert live is not None
        await live.finish()
        await pilot.pause()
        assert live.source == text == view.live_text
        # Finished blocks (rendered once) hold the text in order; only the last block
        # is open (parsed again as text arrives).
        assert "".join(live.finished_blocks) + live.tail == text
        assert live.tail == REPLY_BLOCKS[-1]
        assert len(live.finished_blocks) == len(REPLY_BLOCKS) - 1
        drawn = rendered_text(live)
        for block in ("Heading", "First paragraph with bold", "item two", "y = 2", "second"):
            assert block in drawn
        assert not app.query(Markdown)

        # Looking away and back rebuilds the reply from the text: finished and open again.
        forest = chain(2)
        view.clear_thread()
        await view.show_path(forest)
        await view.begin_stream(node("live2", "r1", streaming=True), (1, 1))
        view.append_tokens(text)
        await pilot.pause()
        again = view.live_reply
        assert again is not None and again is not live
        await again.finish()
        assert again.source == text and again.tail == REPLY_BLOCKS[-1]
        assert len(again.finished_blocks) == 1  # one batch: finished as one piece


async def test_reply_remounted_with_earlier_text_starts_with_finished_blocks() -> None:
    reply = LiveReply(node("live", "r1", streaming=True), (1, 1), "para one\n\npara two\n\nthree")
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await app.query_one(ThreadView).mount(reply)
        await reply.finish()
        await pilot.pause()
        assert reply.source == "para one\n\npara two\n\nthree"
        assert reply.tail == "three"
        assert "para two" in rendered_text(reply)


async def test_finished_blocks_of_a_streaming_reply_are_inert() -> None:
    app = ThreadApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        view.append_tokens(EVIL + "\n\n[a link](https://example.com/)\n\nnext block")
        live = view.live_reply
        assert live is not None
        await live.finish()
        await pilot.pause()
        assert live.finished_blocks  # the evil text is a finished block
        drawn = rendered_text(live)
        assert "[TODO]" in drawn and "[@click=app.quit]x[/b]" in drawn
        assert "\x1b" not in drawn and "\x07" not in drawn
        strips = live.render_lines(Region(0, 0, *live.size))
        metas = [seg.style.meta for strip in strips for seg in strip if seg.style]
        assert not any("@click" in meta for meta in metas)
        links = [seg.style.link for strip in strips for seg in strip if seg.style]
        assert not any(links)  # no OSC 8 hyperlinks: the URL is shown as text
        assert "https://example.com/" in drawn


async def test_sibling_switch_updates_views_in_place() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        forest = chain(10)
        # An alternative branch from r4: r5b → r6b → r7b.
        parent = "r4"
        for rid, sender in (("r5b", "model"), ("r6b", "human"), ("r7b", "model")):
            forest.add(node(rid, parent, sender, f"alt {rid}"))
            parent = rid
        forest.select("r9")
        await view.show_path(forest)
        await pilot.pause()
        before = views(app)
        forest.switch_sibling("r5", +1)
        await view.show_path(forest)
        await pilot.pause()
        after = views(app)
        assert [v.response_id for v in after] == [f"r{i}" for i in range(5)] + [
            "r5b",
            "r6b",
            "r7b",
        ]
        # The same widgets: unchanged ones kept, the others showing the new messages.
        assert all(a is b for a, b in zip(after, before, strict=False))
        assert "alt r6b" in rendered_text(after[6])
        assert after[5].has_class("-model") and after[6].has_class("-human")
        assert "branch 2/2" in after[5].header.plain
        # Switching back shows the longer branch again (views mounted for the rest).
        forest.switch_sibling("r5b", -1)
        await view.show_path(forest)
        await pilot.pause()
        assert [v.response_id for v in views(app)] == [f"r{i}" for i in range(10)]
        assert "message 9" in rendered_text(views(app)[-1])


async def test_streaming_into_a_short_thread_keeps_it_at_the_top() -> None:
    """Textual's anchor would push a short thread down; the view anchors only when tall."""
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        view.append_tokens("short reply")
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == 0 and not view.is_anchored
        assert views(app)[0].region.y == view.region.y  # at the top, not pushed down
        # A long reply makes the view follow it, with the anchor.
        for i in range(40):
            view.append_tokens(f"\n\nline {i}")
            await pilot.pause()
        live = view.live_reply
        assert live is not None
        await live.finish()
        await pilot.pause()
        await pilot.pause()
        assert view.is_anchored and view.scroll_y == view.max_scroll_y > 0
        # A screen taller than the content: back to the top, anchor dropped.
        await pilot.resize_terminal(100, 200)
        await pilot.pause()
        await pilot.pause()
        assert view.max_scroll_y == 0 and view.scroll_y == 0 and not view.is_anchored
        await pilot.resize_terminal(100, 40)
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        # Ending the stream drops the anchor before the content may shrink.
        await view.end_stream(node("m", "r1", message=live.source))
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y


async def test_blocks_starting_without_a_line_break_in_the_fragment_are_seen() -> None:
    """A block can start in a fragment without a newline (after one that ended a line)."""
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        await view.show_path(chain(2))
        await view.begin_stream(node("live", "r1", streaming=True), (1, 1))
        for fragment in ("A\n\n", "  ", "B", " text", "\n", "\n", "C"):
            view.append_tokens(fragment)
            await pilot.pause()
        live = view.live_reply
        assert live is not None
        await live.finish()
        assert live.source == "A\n\n  B text\n\nC"
        assert live.finished_blocks == ["A\n\n", "  B text\n\n"] and live.tail == "C"
        assert "B text" in rendered_text(live)


async def test_a_view_detached_by_teardown_mounts_nothing_and_raises_nothing() -> None:
    # The app's teardown detaches a screen before it closes the screen's widgets; a
    # stream's event handled in between found the view mounted but detached (MountError).
    app = ThreadApp()
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(ThreadView)
        forest = chain(4)
        await view.show_path(forest)
        await view.begin_stream(node("live", "r3", streaming=True), (1, 1))
        screen = app.screen
        screen._detach()  # what the teardown does first
        assert not view.is_attached and not view._closing and not view._pruning
        try:
            forest.add(node("r4", "r3", message="stored"))
            forest.select("r4")
            await view.begin_stream(node("live-2", "r3", streaming=True), (2, 2))
            view.append_tokens("more")
            await view.end_stream(node("r4", "r3", message="stored"))
            await view.show_path(forest)
            await view.clear_thread()
        finally:
            screen._attach(app)
        await pilot.pause()
