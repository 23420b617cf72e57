"""The reply being streamed in the thread view, drawn line by line.

`LiveMarkdown` is streamed Markdown as a Textual line-API widget (`render_line`): the
finished blocks of the text are rendered once into lines, only the open (last) block is
parsed and rendered again as text arrives, and only the lines that changed are repainted.
`LiveReply` is that widget with a message header, as the thread view shows a reply being
streamed; `LiveState` is what the thread view remembers of a streaming reply whether or
not its widget is mounted.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget
from textual.worker import Worker

from grove_explorer.app.safe_text import StreamCleaner, clean
from grove_explorer.app.widgets.message_view import (
    header_text,
    markdown_parser,
    markdown_renderable,
    prime_drawing,
    render_strips,
)

if TYPE_CHECKING:  # markdown-it and Rich's Markdown are imported when a reply is drawn
    from markdown_it.token import Token
    from rich.markdown import Markdown as RichMarkdown

    from grove_explorer.client.models import ResponseNode


def finished_length(source: str, least: int = 2) -> int:
    """How many leading characters of `source` lie before its last top-level block.

    That prefix is finished: CommonMark decides block structure line by line, and what
    text still to come can change is the open, last, block (Textual's `Markdown.append`
    makes the same split). Found with the parser that draws the text (Rich's), which
    counts lines by newline characters only. Returns 0 when `source` has fewer than
    `least` (at least two) blocks.
    """
    return _cut(markdown_parser().parse(source), source, 0, least)


def _cut(tokens: list[Token], source: str, skip_lines: int, least: int = 2) -> int:
    """`finished_length` of `source` from its tokens, parsed after `skip_lines` lines."""
    starts = [
        token.map[0] - skip_lines
        for token in tokens
        if token.level == 0
        and token.nesting >= 0
        and token.map is not None
        and token.map[0] >= skip_lines
    ]
    if len(starts) < max(least, 2):
        return 0
    offset = 0
    for _ in range(starts[-1]):
        offset = source.index("\n", offset) + 1
    return offset


def gap_after(markdown: RichMarkdown) -> bool:
    """Whether Rich puts a blank line before a paragraph that follows `markdown`'s text.

    Rich's `Markdown` decides the blank line before a block from the last element it
    closed (`new_line`): none after a horizontal rule (which draws its own), one after
    anything else. An empty text counts as "no gap" (as at the start of a text).
    """
    from rich.markdown import UnknownElement

    last = next((t for t in reversed(markdown.parsed) if t.level == 0), None)
    if last is None:
        return False
    kind = last.type.removesuffix("_close") + "_open" if last.nesting == -1 else last.type
    return bool(markdown.elements.get(kind, UnknownElement).new_line)


GAP_PREFIX = "x\n\n"
"""Parsed before a block that follows one with a gap after it (its lines then dropped)."""

NO_GAP_PREFIX = "---\n\n"
"""Parsed before a block that follows one without a gap after it (its lines then dropped)."""


@dataclass
class _Block:
    """Markdown text drawn on its own, as it looks after the text before it.

    Rich draws the blank line before a block according to the block before it, so the
    text is parsed after a prefix that leaves the same state (`gap_after`) and the
    prefix's lines are dropped: the blocks of a text drawn one by one join as the whole
    text drawn at once.
    """

    text: str
    after_gap: bool | None
    """The state the text follows: True after a gap-making block, None at the start."""
    parsed: list[Token] | None = None
    """Tokens of the prefix and the text, when parsed already (see `split`)."""
    markdown: RichMarkdown = field(init=False)

    @property
    def prefix(self) -> str:
        """What the text is parsed after."""
        return _prefix(self.after_gap)

    def __post_init__(self) -> None:
        self.markdown = markdown_renderable(self.prefix + self.text, self.parsed)
        self.parsed = None

    @property
    def gap(self) -> bool:
        """The state a next block follows."""
        return gap_after(self.markdown)

    def split(self) -> tuple[_Block, _Block] | None:
        """The finished blocks and the open one, when the text holds more than one block.

        From the tokens parsed already: block structure before the last top-level block
        is final, so the tokens before it are those of the finished text parsed alone
        (after the same prefix), and those from it on, after the tokens of the prefix
        its state calls for, draw the open block as it would be drawn parsed alone.
        """
        parsed = self.markdown.parsed
        skip = self.prefix.count("\n")
        cut = _cut(parsed, self.text, skip)
        if not cut:
            return None
        line = skip + self.text.count("\n", 0, cut)
        index = next(
            i
            for i, token in enumerate(parsed)
            if token.level == 0 and token.map is not None and token.map[0] >= line
        )
        done = _Block(self.text[:cut], self.after_gap, parsed[:index])
        gap = done.gap
        rest = _Block(self.text[cut:], gap, _prefix_tokens(_prefix(gap)) + parsed[index:])
        return done, rest

    def render(self, widget: Widget, width: int, style: Style) -> list[Strip]:
        """The text's lines at `width` (the prefix's lines dropped)."""
        lines = render_strips(widget, self.markdown, width, style)
        prefix = self.prefix
        return lines[_prefix_height(widget, prefix, width, style) :] if prefix else lines


def _prefix(after_gap: bool | None) -> str:
    """What a text that follows a block in state `after_gap` is parsed after."""
    if after_gap is None:
        return ""
    return GAP_PREFIX if after_gap else NO_GAP_PREFIX


@lru_cache(maxsize=4)
def _prefix_tokens(prefix: str) -> list[Token]:
    """The tokens of a prefix (parsed once)."""
    return markdown_parser().parse(prefix) if prefix else []


def _prefix_height(widget: Widget, prefix: str, width: int, style: Style) -> int:
    """The lines `prefix` draws at `width` (a paragraph one, a rule one and a blank)."""
    key = (prefix, width, style)
    height = _PREFIX_HEIGHTS.get(key)
    if height is None:
        if len(_PREFIX_HEIGHTS) > 16:
            _PREFIX_HEIGHTS.clear()
        lines = render_strips(widget, markdown_renderable(prefix), width, style)
        height = _PREFIX_HEIGHTS[key] = len(lines)
    return height


_PREFIX_HEIGHTS: dict[tuple[str, int, Style], int] = {}


class LiveMarkdown(Widget):
    """Streamed Markdown drawn line by line: finished blocks once, the open block per update.

    Why not Textual's `Markdown` widget: each of its blocks is a widget (an 8 KB reply grew
    to hundreds), restyled and laid out again at every append, and Textual lays out the
    whole screen when one changes height. Here the widget is one line-API widget:

    * `write` is synchronous and O(1): it queues the (already cleaned) fragment and asks
      for a layout (once until it happens). Queued text is taken in when the layout
      measures the widget: one update per frame, however many fragments arrived.
    * An update parses the open text only (`finished_length`): the blocks before its last
      one are final, rendered once into lines (as `MessageView` renders a finished
      message: a static `rich.markdown.Markdown`, `render_strips`) and kept; the last
      block is rendered again. The cost of an update depends on the open block, not on
      the length of the reply.
    * Only lines that changed are drawn again (compared with those drawn before, from
      the open block down: text appended to a paragraph or a code block changes its
      last line or two), also when the height changed (Textual would repaint them all,
      `_size_updated`).

    The text is drawn as the finished message will be: the same renderer, the same
    blank lines between blocks (`gap_after`). Text is never parsed as markup and links
    are drawn as text (no OSC 8 escapes).
    """

    DEFAULT_CSS = """
    LiveMarkdown {
        height: auto;
    }
    """

    def __init__(
        self,
        initial: str = "",
        *,
        header: Text | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`initial`: (cleaned) text to show at once; `header`: a line drawn above it."""
        super().__init__(name=name, id=id, classes=classes)
        self._header = header
        self._blocks: list[_Block] = []
        """The finished blocks (a block finished within one update stays one piece)."""
        self._tail = _Block("", None)
        """The open text: its last block (and text not yet split off)."""
        self._pending: list[str] = [initial] if initial else []
        self._layout_asked = False
        self._finished = False
        self._key: tuple[int, Style] | None = None
        """(width, style) the lines below were rendered at; None: not rendered yet."""
        self._head_lines: list[Strip] = []
        """The header's lines and every finished block's."""
        self._header_height = 0
        self._tail_lines: list[Strip] = []
        self._own_resize = False
        """A layout was asked for new text (which marked the lines it may change)."""
        self._keep_lines = False
        self._asking = False
        """While True, `_set_dirty` only marks the area to repaint (see `_ask_layout`)."""

    # -- text ----------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """The (cleaned) text written so far, including text not drawn yet."""
        done = "".join(block.text for block in self._blocks)
        return done + self._tail.text + "".join(self._pending)

    @property
    def tail(self) -> str:
        """The open text, parsed again at each update (the reply's last block)."""
        self.flush()
        return self._tail.text

    @property
    def finished_blocks(self) -> list[str]:
        """The text of the finished blocks, each rendered once."""
        self.flush()
        return [block.text for block in self._blocks]

    @property
    def line_count(self) -> int:
        """The lines drawn (header included) at the current width."""
        return len(self._head_lines) + len(self._tail_lines)

    def drawn_body(self) -> tuple[int, Style, list[Strip]] | None:
        """(width, style, lines) of all the text written, header excluded, if drawn."""
        if self._pending or self._key is None:
            return None
        width, style = self._key
        return width, style, self._head_lines[self._header_height :] + self._tail_lines

    def set_header(self, header: Text | None) -> None:
        """Draws another header line (or none)."""
        self._header = header
        self._key = None
        self.refresh(layout=True)

    def write(self, fragment: str) -> None:
        """Queues cleaned text; it is drawn at the next layout. Synchronous and cheap."""
        if self._finished or not fragment:
            return
        self._pending.append(fragment)
        if not self._layout_asked and self.is_mounted:
            self._ask_layout()

    def flush(self) -> None:
        """Takes in every fragment written so far now (instead of at the next layout)."""
        if not self._pending:
            return
        first = len(self._head_lines)
        self._take_pending()
        if self.is_mounted:
            self._ask_layout(first)

    async def finish(self) -> None:
        """Draws what was written and ignores any later `write` (the stream ended)."""
        self.flush()
        self._finished = True

    def on_mount(self) -> None:
        """Draws text written before the widget was mounted."""
        if self._pending:
            self._ask_layout()

    # -- updating ------------------------------------------------------------------------

    def _ask_layout(self, first: int | None = None) -> None:
        """Asks for a layout, in which queued text is taken in, and a repaint from `first`.

        Text only changes the open block and adds lines: every line from the start of
        the open block (`first`, by default) down may change, none above it. The layout
        is asked for once per frame however many fragments arrive: queued text is taken
        in when Textual measures the widget's height (`get_content_height`), so the open
        block is parsed and rendered once per frame.
        """
        self._layout_asked = True
        self._own_resize = True
        head = len(self._head_lines) if first is None else first
        width, height = self.size
        # The area from the open block down is repainted; which of its lines are drawn
        # again is decided when the text is taken in (`_take_pending`).
        self._asking = True
        try:
            self.refresh(Region(0, head, max(width, 1), max(height - head, 0)), layout=True)
        finally:
            self._asking = False

    def _state(self) -> bool | None:
        """What the open text follows (see `_Block`): None at the start."""
        return self._blocks[-1].gap if self._blocks else None

    def _take_pending(self) -> None:
        """Takes queued text in, rendering the lines that changed if the width is known.

        Lines that look as before (compared from the open block down) are not drawn
        again; the others are marked to be (`_set_dirty` left that to this).
        """
        if not self._pending:
            return
        first = len(self._head_lines)
        before = self._tail_lines
        self._apply_pending()
        if self._key is not None:
            self._render_tail(*self._key)
            self._mark_changed(first, before)

    def _mark_changed(self, first: int, before: list[Strip]) -> None:
        """Marks the lines from `first` on that differ from `before` to be drawn again."""
        after = self._head_lines[first:] + self._tail_lines
        rows = [
            y
            for y in range(max(len(before), len(after)))
            if y >= len(before) or y >= len(after) or before[y] != after[y]
        ]
        if not rows:
            return
        top, left = self.content_offset.y, self.content_offset.x
        width = max(self.size.width, 1)
        self._styles_cache.set_dirty(*(Region(left, top + first + y, width, 1) for y in rows))

    def _apply_pending(self) -> None:
        """Moves queued text into the finished blocks and the open text.

        Blocks start at the beginning of a line, so the open text is split only when the
        new text holds a line break or continues a line that is blank so far. The blocks
        before the last one are final: rendered now (if the width is known) and kept.
        """
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        old = self._tail.text
        line_so_far = old[old.rfind("\n") + 1 :]
        tail = _Block(old + text, self._state())
        may_start = "\n" in text or not line_so_far.strip()
        split = tail.split() if may_start and "\n" in tail.text else None
        if split is not None:
            block, tail = split
            if self._key is not None:
                self._head_lines.extend(block.render(self, *self._key))
            self._blocks.append(block)
        self._tail = tail

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        """Keeps the painted lines an update did not change when only the height changed.

        Textual repaints every line of a widget whose size changed. When the height
        changed because text was taken in, `_ask_layout` marked the lines it may have
        changed, and the others (above them) look the same: only those are painted
        again, not every visible line of the reply at each frame.
        Kept only when nothing is drawn below the lines (no bottom border or padding).
        """
        styles = self.styles
        self._keep_lines = (
            self._own_resize
            and size.width == self._size.width
            and styles.border_bottom[0] in ("", "none", "hidden")
            and styles.padding.bottom == 0
        )
        self._own_resize = False
        try:
            return super()._size_updated(size, virtual_size, container_size, layout)
        finally:
            self._keep_lines = False

    def _set_dirty(self, *regions: Region) -> None:
        """Everything, except the lines an update left unchanged (see `_size_updated`).

        For new text (`_ask_layout`) only the area to repaint: the lines in it that
        changed are marked when the text is taken in (`_take_pending`).
        """
        if regions and self._asking:
            offset = self.content_offset
            moved = [region.translate(offset) for region in regions]
            self._dirty_regions.update(moved)
            self._repaint_regions.update(moved)
        elif regions or not self._keep_lines:
            super()._set_dirty(*regions)

    # -- lines ---------------------------------------------------------------------------

    def _render_tail(self, width: int, style: Style) -> None:
        """Renders the open text (the only Markdown parsed again as text arrives)."""
        tail = self._tail
        self._tail_lines = tail.render(self, width, style) if tail.text.strip() else []

    def _render_all(self, width: int, style: Style) -> None:
        """Renders everything at a new width or style (a resize, a theme change)."""
        self._apply_pending()
        self._key = (width, style)
        header = self._header
        lines = render_strips(self, header, width, style) if header is not None else []
        self._header_height = len(lines)
        for block in self._blocks:
            lines.extend(block.render(self, width, style))
        self._head_lines = lines
        self._render_tail(width, style)

    def _ensure(self, width: int) -> None:
        """Lines rendered at `width` in the current style (rendered again if not)."""
        key = (width, self.visual_style)
        if key != self._key:
            self._render_all(*key)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """The number of lines at `width`, queued text taken in (see `_ask_layout`)."""
        if width <= 0:
            return 0
        self._layout_asked = False
        self._ensure(width)
        self._take_pending()
        return self.line_count

    def render_line(self, y: int) -> Strip:
        """Line `y`: header and finished blocks, then the open text."""
        width = self.size.width
        if width <= 0:
            return Strip.blank(0)
        self._ensure(width)
        head = self._head_lines
        if y < len(head):
            return head[y]
        y -= len(head)
        if 0 <= y < len(self._tail_lines):
            return self._tail_lines[y]
        return Strip.blank(width)


class LiveReply(LiveMarkdown):
    """The reply being streamed: a header like a finished message's, then its Markdown."""

    DEFAULT_CSS = """
    LiveReply {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: tall $secondary;
    }
    """

    def __init__(self, node: ResponseNode, sibling: tuple[int, int], initial: str) -> None:
        """`initial` is (cleaned) text streamed before this widget existed."""
        super().__init__(
            initial,
            header=header_text(node, sibling, streaming=True),
            classes="-model -streaming",
        )
        self.node = node
        self.sibling = sibling

    @property
    def header(self) -> Text:
        """The header line drawn above the text."""
        assert self._header is not None
        return self._header

    def hand_over(self, node: ResponseNode, sibling: tuple[int, int]) -> None:
        """Gives the lines drawn so far to the finished message `node` that replaces this.

        Only when the stored text is the text streamed (drawn the same way then): the
        finished `MessageView` renders its header only (`prime_drawing`).
        """
        self.flush()
        drawn = self.drawn_body()
        if drawn is None or node.is_human or clean(node.message) != self.source:
            return
        width, style, lines = drawn
        prime_drawing(node, sibling, self, width, style, lines)


class WorkerDone:
    """Awaits a worker lazily: no coroutine exists (to warn "never awaited") until awaited."""

    def __init__(self, worker: Worker[None]) -> None:
        self._worker = worker

    def __await__(self) -> Generator[Any, None, None]:
        return self._worker.wait().__await__()


@dataclass
class LiveState:
    """A reply being streamed, whether or not its widget is currently mounted."""

    node: ResponseNode
    sibling: tuple[int, int]
    # The id of the message the reply follows (None: the path is empty).
    after_id: str | None
    # Every cleaned fragment so far, to rebuild the widget if it is mounted again.
    parts: list[str] = field(default_factory=list)
    widget: LiveReply | None = None
    # Keeps a control sequence split between two fragments whole (then drops it).
    cleaner: StreamCleaner = field(default_factory=StreamCleaner)
