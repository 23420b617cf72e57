"""`TokenText`: a reply's tokens drawn in place, shaded by probability, with a cursor.

A Line API widget: it draws only the lines on screen and keeps each drawn line, so moving
the cursor redraws the line or two it leaves and enters, whatever the length of the reply.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from rich.cells import get_character_cell_size
from rich.style import Style as RichStyle
from rich.text import Span, Text
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from grove_explorer.app.screens.tokens.analysis import (
    UNLIKELY,
    wrap_lines,
)
from grove_explorer.app.widgets.message_view import (
    CURSOR_SHADE,
    ShadedTokens,
    shaded_tokens,
)
from grove_explorer.client.streams import TokenInfo


class TokenText(ScrollView, can_focus=False, inherit_bindings=False):
    """A reply's tokens, shaded by probability, with a token cursor (Line API).

    Attributes down, messages up: the screen calls `set_tokens` and the `move_*` methods;
    the widget posts `CursorMoved` (also after a click on a token). Not focusable and
    without bindings of its own, so the screen's keys work whatever has focus.

    Counters for tests of the cost of a move: `builds` (shaded text built), `layouts`
    (lines wrapped) and `line_renders` (lines drawn from the text rather than reused).
    """

    DEFAULT_CSS = """
    TokenText {
        height: 1fr;
        width: 1fr;
        scrollbar-gutter: stable;
    }
    """

    class CursorMoved(Message):
        """The token cursor is on token `index`."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tokens: tuple[TokenInfo, ...] = ()
        self.shading: ShadedTokens | None = None
        self.cursor = 0
        self.builds = 0
        self.layouts = 0
        self.line_renders = 0
        self._width = 0
        self._lines: list[tuple[int, int]] = []
        self._line_starts: list[int] = []
        # Drawn lines without the cursor, by line number, for the widget style they used.
        self._strips: dict[int, Strip] = {}
        self._strip_style: RichStyle | None = None

    # -- state -----------------------------------------------------------------------------

    def set_tokens(self, tokens: Sequence[TokenInfo], cursor: int = 0) -> None:
        """Shows `tokens` with the cursor on token `cursor`: built once, here."""
        self.tokens = tuple(tokens)
        self.shading = shaded_tokens(self.tokens)
        self.builds += 1
        self.cursor = max(0, min(cursor, len(self.tokens) - 1))
        self._width = 0
        self._lines, self._line_starts = [], []
        self._strips.clear()
        self._layout()
        self.post_message(self.CursorMoved(self.cursor))

    @property
    def line_count(self) -> int:
        """Lines at the current width."""
        return len(self._lines)

    def token_range(self, index: int) -> tuple[int, int]:
        """Where token `index` lies in the shaded text (start, end)."""
        assert self.shading is not None
        starts = self.shading.starts
        return starts[index], starts[index + 1]

    def line_of(self, offset: int) -> int:
        """The line holding character `offset` (a newline: the line it ends)."""
        return max(0, bisect_right(self._line_starts, offset) - 1)

    def token_lines(self, index: int) -> tuple[int, int]:
        """The first and last line token `index` is drawn on."""
        start, end = self.token_range(index)
        return self.line_of(start), self.line_of(max(start, end - 1))

    def displayed_tokens(self) -> list[str]:
        """Each token's text as drawn (cleaned), in order: for tests."""
        if self.shading is None:
            return []
        plain, starts = self.shading.text.plain, self.shading.starts
        return [plain[a:b] for a, b in pairwise(starts)]

    def style_of(self, index: int) -> RichStyle:
        """The shading style of token `index` (without the cursor)."""
        assert self.shading is not None
        return self.shading.styles[index]

    # -- layout ----------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._layout()

    def _layout(self) -> None:
        """Wraps the text at the view's width (only when the width changed)."""
        width = self.scrollable_content_region.width
        if self.shading is None or width <= 0 or width == self._width:
            return
        self._width = width
        self._lines = wrap_lines(self.shading.text.plain, width)
        self._line_starts = [start for start, _ in self._lines]
        self._strips.clear()
        self.layouts += 1
        self.virtual_size = Size(width, len(self._lines))
        self._scroll_to_cursor()
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: a kept line, or the line drawn now from the text."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        rich_style = self.rich_style
        line = scroll_y + y
        if self.shading is None or not self._lines or line >= len(self._lines):
            return Strip.blank(width, rich_style)
        if rich_style != self._strip_style:
            self._strips.clear()
            self._strip_style = rich_style
        first, last = self.token_lines(self.cursor) if self.tokens else (-1, -1)
        if first <= line <= last:
            strip = self._draw(line, with_cursor=True)
        elif line in self._strips:
            strip = self._strips[line]
        else:
            strip = self._strips[line] = self._draw(line, with_cursor=False)
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style)

    def _draw(self, line: int, *, with_cursor: bool) -> Strip:
        """Draws one line from the shaded text: its tokens' spans, and the cursor."""
        assert self.shading is not None
        self.line_renders += 1
        start, end = self._lines[line]
        plain = self.shading.text.plain
        starts, styles = self.shading.starts, self.shading.styles
        spans: list[Span] = []
        index = self.shading.token_at(start)
        while index < len(styles) and starts[index] < end:
            a, b = max(starts[index], start), min(starts[index + 1], end)
            if styles[index] and b > a:
                spans.append(Span(a - start, b - start, styles[index]))
            index += 1
        text = Text(plain[start:end], end="", no_wrap=True, spans=spans)
        if with_cursor:
            text = self._with_cursor(text, start, end)
        segments = list(text.render(self.app.console))
        return Strip(segments).apply_style(self.rich_style)

    def _with_cursor(self, text: Text, start: int, end: int) -> Text:
        """`text` (the line start..end) with the cursor token marked on it.

        A newline under the cursor shows as ↵ at the end of its line, and an empty token
        as a thin bar, so the cursor is never invisible.
        """
        assert self.shading is not None
        plain = self.shading.text.plain
        a, b = self.token_range(self.cursor)
        if a == b:
            if self.line_of(a) == self.line_of_cursor_start():
                marker = Text("▏", style=CURSOR_SHADE, end="")
                return Text.assemble(text[: a - start], marker, text[a - start :], end="")
            return text
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            text.stylize(CURSOR_SHADE, lo - start, hi - start)
        if a <= end < b and end < len(plain) and plain[end] == "\n":
            text.append("↵", style=CURSOR_SHADE)
        return text

    def line_of_cursor_start(self) -> int:
        """The line the cursor token starts on."""
        return self.line_of(self.token_range(self.cursor)[0])

    # -- the cursor ------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        """Puts the cursor on token `index` (clamped): redraws the lines it left and enters."""
        if not self.tokens:
            return
        index = max(0, min(len(self.tokens) - 1, index))
        if index != self.cursor:
            old = self.token_lines(self.cursor) if self._lines else None
            self.cursor = index
            if self._lines:
                assert old is not None
                self._refresh_rows(*old)
                self._refresh_rows(*self.token_lines(index))
                self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self.cursor))

    def move_word(self, delta: int) -> None:
        """Moves to the start of the next (`delta` > 0) or previous word."""
        parts = self.displayed_tokens()
        index = self.cursor + delta
        while 0 < index < len(parts) and not _starts_word(parts, index):
            index += delta
        self.move_to(index)

    def move_page(self, delta: int) -> None:
        """Moves a page of lines down or up, to the first token of that line."""
        if not self._lines:
            return
        height = max(1, self.scrollable_content_region.height - 1)
        line = max(0, min(len(self._lines) - 1, self.line_of_cursor_start() + delta * height))
        assert self.shading is not None
        self.move_to(self.shading.token_at(self._lines[line][0]))

    def move_unlikely(self, delta: int) -> bool:
        """Moves to the next/previous token with p < `UNLIKELY`; False when there is none."""
        threshold = math.log(UNLIKELY)
        index = self.cursor + delta
        while 0 <= index < len(self.tokens):
            logprob = self.tokens[index].logprob
            if logprob is not None and logprob < threshold:
                self.move_to(index)
                return True
            index += delta
        return False

    def _refresh_rows(self, first: int, last: int) -> None:
        """Asks Textual to redraw lines first..last (virtual line numbers) only."""
        top = first - self.scroll_offset.y
        self.refresh(Region(0, top, max(self.size.width, 1), last - first + 1))

    def _scroll_to_cursor(self) -> None:
        """Scrolls just enough for the cursor token's lines to show."""
        if not self.tokens or not self._lines:
            return
        first, last = self.token_lines(self.cursor)
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif last >= top + height:
            # The token's last line at the bottom, unless that hides its first line.
            self.scroll_to(y=min(first, last - height + 1), animate=False, immediate=True)

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on the token under the mouse."""
        offset = event.get_content_offset(self)
        if offset is None or self.shading is None or not self._lines:
            return
        line = round(self.scroll_offset.y) + offset.y
        if not 0 <= line < len(self._lines):
            return
        start, end = self._lines[line]
        plain = self.shading.text.plain
        cells, position = 0, start
        while position < end:
            cells += get_character_cell_size(plain[position])
            if cells > offset.x + round(self.scroll_offset.x):
                break
            position += 1
        self.move_to(self.shading.token_at(min(position, max(start, end - 1))))


def _starts_word(parts: Sequence[str], index: int) -> bool:
    """True when token `index` begins a word: it starts with, or follows, whitespace."""
    here, before = parts[index], parts[index - 1]
    return (here[:1].isspace() and bool(here.strip())) or (
        before[-1:].isspace() and bool(here[:1]) and not here[:1].isspace()
    )
