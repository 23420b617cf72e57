"""`FollowingScroll`: a vertical scroll that follows new content while at the bottom.

The view follows new text only while it is at (or within a line of) the bottom.
Scrolling away stops following and returning to the bottom resumes it. After a layout
that changed the content's height the view scrolls to the end, which takes one more
frame; so while the content is well taller than the view (the live reply growing)
Textual's `anchor()` is used as well, which scrolls during the layout itself: the newest
text shows a frame earlier and a frame's work is saved. Only then: on a thread shorter
than the screen `anchor()` scrolls to a negative offset, pushing the messages to the
bottom of the view, so it is dropped before any change that can shrink the content
(messages replaced, the live reply removed).

The thread view is one (the design's rule: auto-scroll only when the view is already at
the bottom); it loads earlier messages when scrolled to the very top.

Less work per frame while the content grows at its end: the children are laid out by
`GrowingVerticalLayout` (only those below the first that changed are placed again), and
the scroll bar is a `RowScrollBar` (only rows whose cells changed are repainted). Both
lean on Textual internals (`_scroll_update`, `_vertical_scrollbar`, `_layout_updates`),
checked against Textual 8.2: tests compare them with Textual's own layout and bar.
"""

from __future__ import annotations

from math import ceil
from typing import Self

from rich.segment import Segment
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.layout import Layout
from textual.layouts.vertical import VerticalLayout
from textual.reactive import Reactive
from textual.scrollbar import ScrollBar

from grove_explorer.app.widgets.growing_layout import GrowingVerticalLayout

FOLLOW_SLACK = 1
"""Lines from the bottom within which the view still counts as "at the bottom"."""

ANCHOR_MARGIN = 10
"""Lines by which the content must exceed the view for Textual's anchor to be used.

Freezing blocks of the live reply can shrink it by a line or two, which must never bring
an anchored view's content below its height.
"""


class RowScrollBar(ScrollBar):
    """A vertical scroll bar that repaints only the rows whose drawing changed.

    Textual's `ScrollBar` repaints every row whenever the content's size, the view's size
    or the position changes: at every frame while a reply streams (the content grows),
    although the thumb moves by an eighth of a row at most, and only every few frames.
    Here those changes compute the bar's cells (Textual's own `render_bar`, one segment
    per row) and repaint the rows that differ from the last ones painted; a change of
    size, style, hover or grab repaints the whole bar as before.
    """

    window_virtual_size: Reactive[int] = Reactive(100, repaint=False)
    window_size: Reactive[int] = Reactive(0, repaint=False)
    position: Reactive[float] = Reactive(0, repaint=False)

    def __init__(self, name: str | None = None, *, thickness: int = 1) -> None:
        super().__init__(vertical=True, name=name, thickness=thickness)
        self._rows: list[Segment] = []
        """The rows as last computed (empty: repaint everything at the next change)."""
        self.changed_rows_only = False
        """While True, `refresh()` without arguments repaints only the rows that changed
        (see `FollowingScroll._scroll_update`)."""

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        """As `Widget.refresh`, except as `changed_rows_only` says."""
        if self.changed_rows_only and not regions and repaint and not layout and not recompose:
            self._repaint_rows()
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _cells(self) -> list[Segment]:
        """The bar's rows at its current size and values (colours left out)."""
        height = self.size.height
        if height <= 0:
            return []
        window_size = self.window_size if self.window_size < self.window_virtual_size else 0
        bar = self.renderer.render_bar(
            size=height,
            virtual_size=ceil(self.window_virtual_size),
            window_size=ceil(window_size),
            position=self.position,
            thickness=1,
            vertical=True,
        )
        return list(bar.segments)

    def _repaint_rows(self) -> None:
        """Repaints the rows that look different from the rows computed last."""
        rows, old = self._cells(), self._rows
        self._rows = rows
        if len(rows) != len(old):
            self.refresh()
            return
        width = max(self.size.width, 1)
        for y, (new, before) in enumerate(zip(rows, old, strict=True)):
            if new != before:
                self.refresh(Region(0, y, width, 1))

    def watch_window_virtual_size(self) -> None:
        """The content's size changed: repaint the rows that changed."""
        self._repaint_rows()

    def watch_window_size(self) -> None:
        """The view's size changed: repaint the rows that changed."""
        self._repaint_rows()

    def watch_position(self) -> None:
        """The position changed: repaint the rows that changed."""
        self._repaint_rows()


class FollowingScroll(VerticalScroll):
    """Scrolls to new content only while the user is at (or within a line of) the bottom."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=True, repaint=False)
    """As `Widget.virtual_size`, without repainting the view itself when it changes.

    The content grows at every frame while a reply streams; Textual's reactive repaints
    the container's own lines (its background and padding, which do not depend on the
    content's size) each time. Children and scrollbars repaint themselves.
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._follow = True
        """Whether new content should scroll into view (the user is at the bottom)."""
        self._growing_layout = GrowingVerticalLayout()

    @property
    def layout(self) -> Layout:
        """Textual's vertical layout, placing again only children below a changed one.

        See `growing_layout`: the live reply grows at every frame, the messages above it
        stay where they are.
        """
        layout = self.styles.layout
        if isinstance(layout, VerticalLayout):
            return self._growing_layout
        return layout or self._default_layout

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The vertical scroll bar (a `RowScrollBar`), created when first needed.

        As Textual's `Widget.vertical_scrollbar` creates its `ScrollBar`.
        """
        bar = self._vertical_scrollbar
        if bar is None:
            bar = RowScrollBar(name="vertical", thickness=self.scrollbar_size_vertical)
            self._vertical_scrollbar = bar
            bar.display = False
            self.app._start_widget(self, bar)
        return bar

    def _scroll_update(self, virtual_size: Size) -> None:
        """As Textual's, which repaints the whole scroll bar: here only its changed rows.

        Textual calls this at every layout that changed the content's size (every frame
        while a reply streams) and then repaints every row of the scroll bar.
        """
        bar = self._vertical_scrollbar
        if not isinstance(bar, RowScrollBar):
            super()._scroll_update(virtual_size)
            return
        bar.changed_rows_only = True
        try:
            super()._scroll_update(virtual_size)
        finally:
            bar.changed_rows_only = False

    def reached_top(self) -> None:
        """Called when the user scrolls to the very top; nothing by default."""

    @property
    def following(self) -> bool:
        """True when new content scrolls into view (the view was at the bottom)."""
        return self._follow

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Tracks whether the user is at the bottom; tells `reached_top` at the top.

        Content growing does not move `scroll_y`, so this only sees the user's (and our
        own) scrolling: exactly what decides whether to follow new text.
        """
        super().watch_scroll_y(old_value, new_value)
        self._follow = new_value >= self.max_scroll_y - FOLLOW_SLACK
        if not self._follow:
            self._drop_anchor()
        if new_value <= 0 < old_value:
            self.reached_top()

    def watch_virtual_size(self) -> None:
        """The content grew or shrank: stay at the bottom if we were there.

        Deferred with `call_next` because Textual sets the container size just after the
        virtual size, and `max_scroll_y` needs both.
        """
        if self._follow:
            self.call_next(self._stick_to_end)

    def on_resize(self) -> None:
        """A taller view may now exceed its content: re-check the anchor (and the end).

        The content's size alone may not change, so `watch_virtual_size` would not run.
        """
        if self._follow:
            self.call_next(self._stick_to_end)

    def _stick_to_end(self) -> None:
        """Scrolls to the bottom if still following (the user may have scrolled since).

        Then anchors the view (see the module docstring) if it follows and its content is
        more than `ANCHOR_MARGIN` lines taller than the view.
        """
        if self._follow and self.scroll_y != self.max_scroll_y:
            # `force`: a view with nothing to scroll ignores scrolling, even back from the
            # negative offset an anchor leaves when the view outgrew its content.
            self.scroll_end(animate=False, immediate=True, force=True)
        anchor = self._follow and self.max_scroll_y >= ANCHOR_MARGIN
        if anchor != self.is_anchored:
            self.anchor(anchor)

    def _drop_anchor(self) -> None:
        """Stops anchoring before a change that may shrink the content (see the module docstring).

        The next size change re-anchors through `_stick_to_end` if still appropriate.
        """
        if self.is_anchored:
            self.anchor(False)
