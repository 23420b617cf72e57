"""How the forest pane lays out its lines: capped indentation and labels fitted to the pane.

Textual's `Tree` indents every level by `guide_depth` cells and never stops, so forty
branch points down a 37-column pane show nothing but guide lines. Here indentation stops
at `indent_levels` (what the pane's width allows while leaving `MIN_LABEL_CELLS` for the
label): a run nested deeper is drawn at that indentation, under its ancestor at the last
indented level, and its label starts with a depth marker ("↳41"), the convention the
depth guard's flat listing already uses. The tree's structure is untouched (expanding,
collapsing and lazy population work as before); only the drawing is capped.

Labels are fitted when a line is drawn (`render_label`, which Tree calls lazily for the
visible lines only and caches per line): the message text is shortened so the whole label,
"+N" and live progress included, fits the pane. So the pane never needs sideways
scrolling, and `_build` does not measure every label (Tree's does, for its virtual width),
which keeps 10,000-line trees cheap to rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widgets._tree import TOGGLE_STYLE, _TreeLine
from textual.widgets.tree import TreeNode

from grove_explorer.app.widgets.forest_tree.items import ForestItem
from grove_explorer.app.widgets.forest_tree.runs import RunNodes


@dataclass
class FittedLine(_TreeLine[ForestItem]):
    """A tree line whose `path` may skip ancestors (`capped`: drawn shallower than it is)."""

    capped: bool = False


class FittedTree(RunNodes):
    """A run tree drawn with capped indentation and labels that fit the pane."""

    MIN_LABEL_CELLS: ClassVar[int] = 22
    """Cells a label keeps at the deepest indentation: marker, glyph, k/n, some text, +N."""
    MIN_TEXT_CELLS: ClassVar[int] = 4
    """Message text is never cut shorter than this (then the label is cut at the edge)."""
    TEXT_WIDTH: ClassVar[int] = 32

    @property
    def label_room(self) -> int:
        """Cells available to a line (the pane minus its scrollbar gutter)."""
        return max(self.scrollable_content_region.width, 0)

    @property
    def indent_levels(self) -> int:
        """How many levels are indented before depth markers take over (at least 1)."""
        return max(1, (self.label_room - self.MIN_LABEL_CELLS) // max(self.guide_depth, 1))

    def _build(self) -> None:
        """Tree's line builder, iterative and with indentation capped at `indent_levels`.

        A line's `path` holds its ancestors up to the capped level, then the node: Tree
        draws one guide column per path entry, so deep lines get no more columns. The
        last capped line under an indented ancestor is marked `last` (└), the others not
        (├), so the lines read as one list under that ancestor.
        """
        cap = self.indent_levels
        lines: list[_TreeLine[ForestItem]] = []
        add_line = lines.append
        top: list[TreeNode[ForestItem]] = [self.root] if self.show_root else self.root._children
        stack: list[tuple[list[TreeNode[ForestItem]], TreeNode[ForestItem], bool, bool]] = []
        count = len(top)
        stack.extend(([], node, index == count - 1, False) for index, node in enumerate(top))
        stack.reverse()
        while stack:
            prefix, node, last, capped = stack.pop()
            node._line = len(lines)
            add_line(FittedLine([*prefix, node], last, capped))
            if not node._expanded or not node._children:
                continue
            deeper = len(prefix) >= cap
            child_prefix = prefix if deeper else [*prefix, node]
            children = node._children
            count = len(children)
            stack.extend(
                (child_prefix, child, index == count - 1, deeper)
                for index, child in reversed(list(enumerate(children)))
            )
        # Capped lines sit at level `cap`; each block of them under one ancestor ends in └.
        following = False
        for line in reversed(lines):
            level = len(line.path) - 1
            if level < cap:
                following = False
            elif isinstance(line, FittedLine) and level == cap:
                if line.capped or following:
                    line.last = not following
                following = True
        self._tree_lines_cached = lines
        self.virtual_size = Size(self.label_room, len(lines))
        if self.cursor_line != -1:
            if self.cursor_node is not None:
                self.cursor_line = self.cursor_node._line
            if self.cursor_line >= len(lines):
                self.cursor_line = -1

    def get_label_width(self, node: TreeNode[ForestItem]) -> int:
        """Labels are fitted to the pane (see `render_label`): measure the fitted one."""
        return self.render_label(node, Style(), Style()).cell_len

    def render_label(self, node: TreeNode[ForestItem], base_style: Style, style: Style) -> Text:
        """The node's label fitted to the cells left of its indentation, drawn on demand."""
        line = self._line_of(node)
        level = len(line.path) - 1 if line is not None else 0
        capped = isinstance(line, FittedLine) and line.capped
        toggle = 2 if node._allow_expand else 0
        room = self.label_room - level * self.guide_depth - toggle
        item = node.data
        if item is None:
            label = node._label.copy()
            label.truncate(max(room, 1), overflow="ellipsis")
        else:
            label = self._fitted_label(item, room, capped)
        node_label = label
        node_label.stylize(style)
        if node._allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            return Text.assemble((icon, base_style + TOGGLE_STYLE), node_label)
        return Text.assemble(node_label)

    def _line_of(self, node: TreeNode[ForestItem]) -> _TreeLine[ForestItem] | None:
        lines = self._tree_lines
        index = node._line
        if 0 <= index < len(lines) and lines[index].path[-1] is node:
            return lines[index]
        return None

    def _fitted_label(self, item: ForestItem, room: int, capped: bool) -> Text:
        """The run's label with its message text shortened until the whole fits `room`."""
        width = self.TEXT_WIDTH
        label = self._label_for(item, text_width=width, depth_mark=capped)
        excess = label.cell_len - room
        while excess > 0 and width > self.MIN_TEXT_CELLS:
            width = max(self.MIN_TEXT_CELLS, width - excess)
            label = self._label_for(item, text_width=width, depth_mark=capped)
            excess = label.cell_len - room
        if excess > 0:
            label.truncate(max(room, 1), overflow="ellipsis")
        return label

    def _label_for(
        self, item: ForestItem, *, text_width: int | None = None, depth_mark: bool = False
    ) -> Text:
        """The run's label (the tree class draws it)."""
        raise NotImplementedError
