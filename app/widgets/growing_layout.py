"""A vertical layout that places again only the children from the first one that changed.

Textual lays a container's children out again, every one of them, whenever one changes
height: while a reply streams into the thread, the live reply (its last child) grows at
every frame and the ~50 finished messages above it were measured and placed again each
time, although none of them moved. `GrowingVerticalLayout` is Textual's vertical layout
that remembers its last arrangement: the leading children that are the same widgets with
the same layout state (Textual's own keys for a child's size: `_layout_updates`, which
any change of its content or size counts, and its styles' cache key) and the same
container size keep their places, and only the rest are arranged, below them.

Only for children that stack simply — a height that is `auto` or a number of cells, no
overlay, no absolute position: their places are whole cells and each one's depends only
on those above it. Any other child, or a changed container or terminal size, arranges
everything as Textual does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.css.scalar import Unit
from textual.geometry import Offset, Size
from textual.layout import ArrangeResult, WidgetPlacement
from textual.layouts.vertical import VerticalLayout

if TYPE_CHECKING:
    from textual.css.styles import RenderStyles
    from textual.widget import Widget

_ChildKey = tuple["Widget", int, int]
"""A child, its count of layout changes and its styles' cache key."""


def _stacks_simply(styles: RenderStyles) -> bool:
    """Whether a child with `styles` takes whole cells below the one above it."""
    for scalar in (styles.height, styles.min_height, styles.max_height):
        if scalar is not None and scalar.unit not in (Unit.AUTO, Unit.CELLS):
            return False
    if styles.height is None:
        return False
    if styles.overlay == "screen":
        return False
    return not (styles.has_rule("position") and styles.position == "absolute")


class GrowingVerticalLayout(VerticalLayout):
    """Textual's vertical layout, keeping the places of an unchanged leading run of children.

    One instance per container (it remembers that container's last arrangement).
    """

    name = "vertical"

    def __init__(self) -> None:
        super().__init__()
        self._context: tuple[Size, Size, bool] | None = None
        self._keys: list[_ChildKey] = []
        self._placements: list[WidgetPlacement] = []
        self._simple: list[bool] = []
        """Whether each child stacks simply (`_stacks_simply`), as `_keys`."""

    def arrange(
        self, parent: Widget, children: list[Widget], size: Size, greedy: bool = True
    ) -> ArrangeResult:
        """The children's places: the unchanged leading ones as before, the rest anew."""
        context = (size, parent.app.size, greedy)
        keys = [(child, child._layout_updates, child.styles._cache_key) for child in children]
        keep = 0
        if context == self._context:
            old = self._keys
            limit = min(len(keys), len(old)) - 1  # the last child is always placed again
            while keep < limit and keys[keep] == old[keep]:
                keep += 1
        # The kept children's styles are unchanged (their keys are): so is the answer.
        simple = self._simple[:keep] + [_stacks_simply(child.styles) for child in children[keep:]]
        if keep and all(simple):
            kept = self._placements[:keep]
            rest = list(super().arrange(parent, children[keep:], size, greedy))
            above = kept[-1]
            # The margin between two children is the larger of the two (as Textual's).
            top = rest[0].margin.top
            gap = max(above.margin.bottom, top)
            shift = above.region.bottom + gap - rest[0].region.y
            placements = kept + WidgetPlacement.translate(rest, Offset(0, shift))
        else:
            placements = list(super().arrange(parent, children, size, greedy))
        self._context, self._keys, self._placements = context, keys, placements
        self._simple = simple
        return placements
