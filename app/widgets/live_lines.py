"""Line-based drawing for the Compare screen's live columns: a streamed tail and a header.

Eight columns stream at once, each a few hundred tokens a second, and the screen draws
them up to `FLUSH_HZ` times a second. A full redraw of a column per flush (re-wrapping or
re-rendering its whole text, or laying out the screen) is what made that screen lag, so
both widgets here only touch what changed:

- `LiveText` keeps its text as appended pieces (joined only when read), its wrapped lines
  as strings (only the open last line is wrapped again when text arrives), and one cached
  `Strip` per wrapped line; it repaints only the rows whose line changed, or every row
  when a new line scrolls the tail up. Its height is fixed, so it never needs a layout.
- `HeaderLines` draws a header `Text` as a `Static` would, but compares the new rows with
  the drawn ones: a changing token count repaints one row, and it lays out only when the
  number of rows changes.

Text arrives cleaned (`clean()` in `app.safe_text`) and is drawn as plain segments or
`Text`: never parsed as markup.
"""

from __future__ import annotations

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.dom import NoScreen
from textual.events import Resize
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

LIVE_ROWS = 20
"""Height of a streaming column's text: a fixed tail view of its newest wrapped lines."""

TAB = "    "
"""What a tab is drawn as in the live view (tab stops need the whole line; this does not)."""


def repaint(widget: Widget, *regions: Region) -> None:
    """Repaints `regions` of `widget` (all of it when none are given) if it is on screen.

    A column scrolled out of view only has its drawn lines marked stale: Textual's
    `refresh` of a widget the last frame did not show makes the compositor rebuild its map
    of the whole screen at the next frame (it takes the widget for a new one), once per
    frame while text streams into it. When the widget comes into view its stale lines are
    rendered afresh, as any widget's are.
    """
    if on_screen(widget) or not widget.is_mounted:
        widget.refresh(*regions)
    else:
        widget._set_dirty()


def on_screen(widget: Widget) -> bool:
    """True when the last frame showed `widget` (Textual's own test, as in `can_view_partial`)."""
    try:
        return widget in widget.screen._compositor.visible_widgets
    except NoScreen:
        return False


def wrap_paragraphs(text: str, width: int) -> list[str]:
    """`text` wrapped to `width` cells, paragraph by paragraph (a newline ends a line).

    Lines keep their trailing spaces, as `divide_line` leaves them; an empty paragraph is
    one empty line, and text ending in a newline ends with an empty (open) line.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        previous = 0
        for offset in divide_line(paragraph, width, fold=True) if paragraph else ():
            lines.append(paragraph[previous:offset])
            previous = offset
        lines.append(paragraph[previous:])
    return lines


class LiveText(Widget):
    """Streamed text as a tail view: the newest `LIVE_ROWS` wrapped lines, fixed height.

    The text only grows, so wrapped lines before the last one never change: `append`
    wraps the last line with what arrived (O(new text)), drops the cached strips of the
    lines it rewrapped and repaints their rows with `refresh(region)` (all rows when the
    tail moved up). The whole text is wrapped again only when the width changes.
    """

    DEFAULT_CSS = f"""
    LiveText {{
        height: {LIVE_ROWS};
    }}
    """

    def __init__(self, text: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._pieces: list[str] = []
        """The text as appended (tabs expanded); joined only when read."""
        self._lines: list[str] = []
        """Every wrapped line; the last one is still open (text may join it)."""
        self._width = 0
        """The width `_lines` were wrapped to (0: not wrapped yet)."""
        self._strips: dict[int, Strip] = {}
        """The drawn strip of a wrapped line, by line index, for `_strip_key`."""
        self._strip_key: tuple[int, Style] | None = None
        self._style = Style()
        """The widget's style, computed once per paint (`render_lines`)."""
        self._paint_size: Size | None = None
        """The size during a paint (`render_lines`); None outside one."""
        self._paint_top = 0
        if text:
            self.append(text)

    @property
    def text(self) -> str:
        """The text as drawn (cleaned, tabs expanded)."""
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def lines(self) -> list[str]:
        """Every wrapped line (for tests)."""
        self._ensure_wrapped()
        return list(self._lines)

    @property
    def top(self) -> int:
        """Index of the wrapped line drawn on the first row."""
        return max(0, len(self._lines) - self.size.height)

    def append(self, text: str) -> None:
        """Adds cleaned text; wraps only the last line again and repaints changed rows."""
        if not text:
            return
        text = text.replace("\t", TAB)
        self._pieces.append(text)
        if not self._width:  # wrapped once the widget knows its width
            if self.is_mounted:
                self.refresh()
            return
        lines = self._lines
        first = len(lines) - 1
        old_top = self.top
        lines[first:] = wrap_paragraphs(lines[first] + text, self._width)
        for index in range(first, len(lines)):
            self._strips.pop(index, None)
        if self.is_mounted:
            self._repaint_from(first, old_top)

    def _repaint_from(self, first: int, old_top: int) -> None:
        """Repaints the rows of lines `first`… (every row if the tail moved up)."""
        top = self.top
        if top != old_top:
            for index in [i for i in self._strips if i < top]:
                del self._strips[index]
            repaint(self)
            return
        rows = len(self._lines) - first
        if rows > 0:
            repaint(self, Region(0, first - top, self.size.width, rows))

    def _ensure_wrapped(self) -> None:
        width = max(self.size.width, 1) if self.is_mounted else 0
        if width and width != self._width:
            self._width = width
            self._lines = wrap_paragraphs(self.text, width)
            self._strips.clear()

    def on_resize(self, event: Resize) -> None:
        self._ensure_wrapped()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Paints the dirty rows; style, size and top line are computed once for all."""
        self._ensure_wrapped()
        self._style = self.rich_style
        self._paint_size = self.size
        self._paint_top = self.top
        try:
            return super().render_lines(crop)
        finally:
            self._paint_size = None

    def render_line(self, y: int) -> Strip:
        size = self._paint_size
        if size is None:  # called on its own (not through render_lines)
            self._ensure_wrapped()
            self._style, size, top = self.rich_style, self.size, self.top
        else:
            top = self._paint_top
        width = size.width
        style = self._style
        key = (width, style)
        if key != self._strip_key:
            self._strip_key = key
            self._strips.clear()
        index = top + y
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, style)
        strip = self._strips.get(index)
        if strip is None:
            line = self._lines[index]
            strip = Strip([Segment(line, style)], cell_len(line)).crop_extend(0, width, style)
            self._strips[index] = strip
        return strip


def _on_line(strip: Strip, line: int) -> Strip:
    """`strip`, rendered from one line alone, as rendered as line `line` of a larger text.

    Textual marks each segment with its (column, line) offset in the text (for text
    selection); a line rendered on its own says line 0.
    """
    if not line:
        return strip
    segments = []
    for text, style, control in strip:
        offset = style.meta.get("offset") if style is not None and style._meta else None
        if offset is not None:
            style = style + Style.from_meta({"offset": (offset[0], line)})  # type: ignore[operator]
        segments.append(Segment(text, style, control))
    return Strip(segments, strip.cell_length)


class HeaderLines(Widget):
    """A header `Text` drawn as `Static` would draw it, repainting only the rows that changed.

    `show` renders the new header (a few short lines) and compares it row by row with
    what is drawn: a new token count repaints one row. Only when the number of rows
    changes is the header laid out again.
    """

    DEFAULT_CSS = """
    HeaderLines {
        height: auto;
    }
    """

    def __init__(self, header: Text, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._header = header
        self._rows: list[Strip] | None = None
        """The header's rows as drawn (None: not rendered since the last `show`)."""
        self._rows_key: tuple[int, Style] | None = None
        """The width and style `_rows` and `_line_rows` were rendered for."""
        self._line_rows: dict[tuple[object, ...], list[Strip]] = {}
        """The rows of each line of the header, by the line's text and spans."""

    def render(self) -> Text:
        return self._header

    def _rows_for(self, width: int) -> list[Strip]:
        """The rows at `width` in the current style; only lines not drawn before are rendered.

        Rendering a `Text` through Textual costs far more than comparing it, and while a
        sample streams only its counts line changes.
        """
        style = self.visual_style
        key = (width, style.rich_style)
        if key != self._rows_key:
            self._rows_key, self._rows, self._line_rows = key, None, {}
        if self._rows is None:
            rows: list[Strip] = []
            line_rows: dict[tuple[object, ...], list[Strip]] = {}
            for index, line in enumerate(self._header.split("\n", allow_blank=True)):
                line_key = (index, line.plain, tuple(line.spans), line.style)
                strips = self._line_rows.get(line_key)
                if strips is None:
                    visual = visualize(self, line, markup=False)
                    strips = Visual.to_strips(self, visual, width, None, style)
                    strips = [_on_line(strip, index) for strip in strips]
                line_rows[line_key] = strips
                rows.extend(strips)
            self._rows, self._line_rows = rows, line_rows
        return self._rows

    def show(self, header: Text) -> None:
        """Draws `header`, repainting only the rows that changed."""
        width = self.size.width if self.is_mounted else 0
        if not width:
            self._header, self._rows = header, None
            self.refresh(layout=True)
            return
        if not on_screen(self) and self._same_height(header, width):
            # Out of view: drawn (from the new header) when it comes back into view.
            self._header, self._rows = header, None
            self._set_dirty()
            return
        old = self._rows_for(width)  # as drawn (rendered now if it never was at this width)
        self._header, self._rows = header, None
        rows = self._rows_for(width)
        if len(old) != len(rows):
            self.refresh(layout=True)
            return
        changed = [y for y, (a, b) in enumerate(zip(old, rows, strict=True)) if a != b]
        if changed:
            repaint(self, *(Region(0, y, width, 1) for y in changed))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        rows = self._rows_for(width)
        if y < len(rows):
            return rows[y]
        return Strip.blank(width, self.visual_style.rich_style)

    def _same_height(self, header: Text, width: int) -> bool:
        """True when `header` certainly takes as many rows as the one drawn.

        As many lines, each fitting the width (one row each): no layout is needed.
        """
        old = self._header.plain.split("\n")
        new = header.plain.split("\n")
        return len(old) == len(new) and all(cell_len(line) <= width for line in old + new)

    @property
    def content(self) -> Text:
        """The header drawn (as `Static.content`)."""
        return self._header

    @property
    def drawn(self) -> list[Text]:
        """The header's lines (for tests)."""
        return list(self._header.split("\n", allow_blank=True))
