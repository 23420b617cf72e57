"""The forest pane's widget: `ForestTree`, the screen's API and the tree's messages.

Attributes down, messages up: the screen calls `show_forest`, `refresh_forest`,
`set_current_path`, `set_streaming`, `hoist`/`unhoist` and sets `show_totals`; the widget
posts `ResponseChosen` and `ResponseHighlighted` and never touches the network. How runs
become nodes is `runs.RunNodes`; how a run is drawn, `labels.run_label`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Self

from rich.style import Style
from rich.text import Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from grove_explorer.app.safe_text import first_line
from grove_explorer.app.widgets.forest_tree.fitted import FittedTree
from grove_explorer.app.widgets.forest_tree.items import (
    HOIST_MARK,
    HUMAN_GLYPH,
    MODEL_GLYPH,
    ForestItem,
    is_placeholder,
)
from grove_explorer.app.widgets.forest_tree.labels import label_styles, run_label

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest, Totals


class ForestTree(FittedTree):
    """The response forest of one conversation, one node per run of responses."""

    MAX_DEPTH: ClassVar[int] = 300
    MARKER_INTERVAL_S: ClassVar[float] = 0.25
    """Least time between two drawings of a streaming reply's token count."""
    """Branch-point nesting shown as indentation; deeper runs are listed flat.

    Well below the ~950 levels at which Tree's recursive line builder overflows the stack,
    leaving room for the frames of whatever calls it.
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = Tree.COMPONENT_CLASSES | {
        "forest-tree--human",
        "forest-tree--model",
        "forest-tree--current",
        "forest-tree--muted",
        "forest-tree--marker",
        "forest-tree--streaming",
        "forest-tree--annotation",
        "forest-tree--hoist",
    }
    """
    | Class | Description |
    | :- | :- |
    | `forest-tree--human` | Glyph of a run a person started. |
    | `forest-tree--model` | Glyph of a run a model started. |
    | `forest-tree--current` | Text of runs on the current path. |
    | `forest-tree--muted` | "+N", "[k/n]" and depth markers. |
    | `forest-tree--marker` | Partial / manual / shared / query markers. |
    | `forest-tree--streaming` | Live sampling progress. |
    | `forest-tree--annotation` | Bookmark / rating / tags / note markers. |
    | `forest-tree--hoist` | The header line of a hoisted tree. |
    """

    DEFAULT_CSS = """
    ForestTree {
        /* Labels are fitted to the pane: no sideways scrolling, and a constant width
           whether or not the vertical scrollbar shows. */
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        & > .forest-tree--human { color: $text-success; }
        & > .forest-tree--model { color: $text-primary; }
        & > .forest-tree--current { color: $text-accent; text-style: bold; }
        & > .forest-tree--muted { color: $text-muted; }
        & > .forest-tree--marker { color: $text-warning; }
        & > .forest-tree--streaming { color: $text-secondary; text-style: italic; }
        & > .forest-tree--annotation { color: $text-error; text-style: bold; }
        & > .forest-tree--hoist { color: $text-accent; text-style: italic; }
    }
    """

    # Deep forests indent a lot; three cells per level still shows the guides clearly.
    guide_depth = reactive(3, init=False)

    class _RunMessage(Message):
        """Base of the tree's messages: a run, named by its last response id."""

        def __init__(
            self,
            response_id: str,
            *,
            item: ForestItem | None = None,
            forest_tree: ForestTree | None = None,
        ) -> None:
            super().__init__()
            self.response_id = response_id
            """The run's last response id."""
            self.item = item
            """The run."""
            self.forest_tree = forest_tree

        @property
        def control(self) -> ForestTree | None:
            """The tree that posted the message."""
            return self.forest_tree

    class ResponseChosen(_RunMessage):
        """The user chose a run (Enter or click): make its last response the leaf."""

    class ResponseHighlighted(_RunMessage):
        """The cursor moved to a run (the screen may preview it)."""

    def __init__(
        self,
        *,
        max_depth: int | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        # Set before Tree.__init__, which may call overridden methods such as `clear`.
        self.max_depth = self.MAX_DEPTH if max_depth is None else max(max_depth, 1)
        self._forest: Forest | None = None
        # Materialised run nodes by their first response id (unique in a forest).
        self._run_nodes: dict[str, TreeNode[ForestItem]] = {}
        # Nodes whose children have been created (Tree node ids; reset by `clear`).
        self._populated: set[int] = set()
        # Runs the user collapsed (first ids): not reopened by `set_current_path`.
        self._user_collapsed: set[str] = set()
        self._path_starts: set[str] = set()
        self._leaf_start: str | None = None
        self._streaming_id: str | None = None
        self._streaming_tokens = 0
        self._streaming_node: TreeNode[ForestItem] | None = None
        self._marker_drawn = -math.inf  # when the streaming count was last drawn
        self._marker_timer: Timer | None = None
        self.clock: Callable[[], float] = time.monotonic
        """The time the streaming marker's pace is measured by (tests move it)."""
        self._label_styles: dict[str, Style] | None = None
        self._restyle_pending = False
        # What `_item` and `_starts_to` derived from the forest at `_cache_revision`: a
        # run or a path can be thousands of responses long, and a sibling switch asks
        # for the same ones again (it moves the leaf but changes no structure).
        self._cache_revision: int | None = None
        self._items: dict[tuple[str, int, int, int, bool], ForestItem] = {}
        self._starts: dict[tuple[str, int], list[str]] = {}
        # Hoisting: a response id whose run is the only top-level node (None: the forest).
        self._hoist_id: str | None = None
        # Subtree totals by response id, for the forest revision they were computed at.
        self._show_totals = False
        self._totals: dict[str, Totals] = {}
        self._totals_revision: int | None = None
        super().__init__("forest", name=name, id=id, classes=classes, disabled=disabled)
        self.show_root = False
        # Enter chooses a run; toggling is Space or a click on the arrow. Otherwise Enter on
        # an expanded run would collapse the very branch the user just chose.
        self.auto_expand = False

    # -- API for the screen --------------------------------------------------------------

    @property
    def forest(self) -> Forest | None:
        """The forest shown (None before `show_forest` or after `clear`)."""
        return self._forest

    def show_forest(self, forest: Forest) -> None:
        """Rebuilds from scratch, expands the current path and puts the cursor on the leaf.

        A hoist survives when the forest is the same conversation's and still holds the
        hoisted response (a reload); another conversation shows whole.
        """
        old = self._forest
        hoist = self._hoist_id
        if (
            old is None
            or old.conversation.conversation_id != forest.conversation.conversation_id
            or hoist not in forest.responses
        ):
            hoist = None
        self.clear()
        self._forest = forest
        self._hoist_id = hoist
        self._show_header()
        self._populate(self.root)
        self._apply_path([node.response_id for node in forest.current_path], force_cursor=True)
        if self._leaf_start is None and self.root.children:
            self._move_cursor_to(self.root.children[0])

    def refresh_forest(self, forest: Forest) -> None:
        """Brings the tree up to date after responses were added, completed or replaced.

        Only materialised nodes are checked: labels change in place, new runs are inserted
        and vanished ones removed, so expansion state survives. A run that replaces an
        expanded one (a placeholder swapped for its stored reply, a run split by a new
        sibling) is expanded again. Then the forest's current path is applied as
        `set_current_path` would.
        """
        if (
            self._forest is None
            or forest.conversation.conversation_id != self._forest.conversation.conversation_id
        ):
            self.show_forest(forest)
            return
        if self._hoist_id is not None and self._hoist_id not in forest.responses:
            self._forest = forest
            self.unhoist()
            return
        self._forest = forest
        self._show_header()
        cursor = self.cursor_node
        cursor_item = cursor.data if cursor is not None else None
        expanded_firsts: set[str] = set()
        expanded_lasts: set[str] = set()
        for node in self._run_nodes.values():
            if node.is_expanded and node.data is not None:
                expanded_firsts.add(node.data.first_id)
                expanded_lasts.add(node.data.last_id)
        # Totals change above every new response, in runs that did not change themselves.
        stale_totals = self._show_totals and self._totals_revision != forest.revision
        self._reconcile(expanded_firsts, expanded_lasts)
        if stale_totals:
            self._relabel_all()
        if cursor_item is not None and self._run_nodes.get(cursor_item.first_id) is not cursor:
            replacement = self.node_for(cursor_item.last_id) or self.node_for(cursor_item.first_id)
            if replacement is None and forest.leaf_id is not None:
                replacement = self.reveal(forest.leaf_id)
            if replacement is not None:
                self._move_cursor_to(replacement)
        self.set_current_path([node.response_id for node in forest.current_path])

    def set_current_path(self, path_ids: Sequence[str]) -> None:
        """Highlights the runs on the path root → leaf and expands them.

        A run the user collapsed while it was on the path stays collapsed (the screen calls
        this after every completed response; reopening it each time would fight the user)
        until it leaves the path and comes back. The cursor follows the leaf when the
        leaf's run changes, unless the user has moved it elsewhere inside the focused tree.
        """
        self._apply_path(path_ids, force_cursor=False)

    def _apply_path(self, path_ids: Sequence[str], *, force_cursor: bool) -> None:
        forest = self._forest
        if forest is None:
            return
        starts = self._starts_to(path_ids)
        old_starts = self._path_starts
        new_starts = set(starts)
        self._path_starts = new_starts
        for first_id in old_starts ^ new_starts:
            node = self._run_nodes.get(first_id)
            if node is not None:
                self._relabel(node)
        starts = self._below_hoist(starts)
        for first_id in starts:
            node = self._run_nodes.get(first_id)
            if node is None:
                break
            if node.allow_expand:
                self._populate(node)
                if not node.is_expanded and (
                    first_id not in old_starts or first_id not in self._user_collapsed
                ):
                    node.expand()
        leaf_start = starts[-1] if starts else None
        if leaf_start == self._leaf_start:
            return
        cursor = self.cursor_node
        follow = (
            force_cursor
            or not self.has_focus
            or cursor is None
            or cursor.data is None
            or cursor.data.first_id == self._leaf_start
        )
        self._leaf_start = leaf_start
        if follow and leaf_start is not None:
            node = self.reveal(leaf_start)
            if node is not None:
                self._move_cursor_to(node)

    def set_streaming(self, response_id: str | None, tokens: int = 0) -> None:
        """Shows live progress on the run ending in the streaming placeholder.

        Only that node's label changes. A placeholder not yet in the shown forest (the
        screen refreshes the tree after this) gets the count when its node is built.
        A new count for the same reply is drawn at most every `MARKER_INTERVAL_S` (the
        latest one, by a timer if none follows): tokens arrive in batches many times a
        second, and each redrawn label repaints the tree's row.
        """
        previous = self._streaming_node
        self._streaming_tokens = tokens  # any label built from now on shows it
        if response_id is not None and response_id == self._streaming_id and previous:
            wait = self._marker_drawn + self.MARKER_INTERVAL_S - self.clock()
            if wait <= 0:
                self._draw_marker()
            elif self._marker_timer is None:
                self._marker_timer = self.set_timer(wait, self._draw_marker, name="marker")
            return
        self._stop_marker_timer()
        self._streaming_id = response_id
        node = self._node_ending_in(response_id) if response_id is not None else None
        self._streaming_node = node
        self._marker_drawn = self.clock()
        if previous is not None and previous is not node:
            self._relabel(previous)
        if node is not None:
            self._relabel(node)

    def _draw_marker(self) -> None:
        """Redraws the streaming run's label with the latest count."""
        self._stop_marker_timer()
        self._marker_drawn = self.clock()
        node = self._streaming_node
        if node is not None:
            self._relabel(node)

    def _stop_marker_timer(self) -> None:
        if self._marker_timer is not None:
            self._marker_timer.stop()
            self._marker_timer = None

    def reveal(self, response_id: str) -> TreeNode[ForestItem] | None:
        """Materialises and expands the ancestors of the run holding `response_id`.

        Returns its node (None if the response is not in the forest).
        """
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return None
        starts = self._below_hoist(
            self._starts_to([node.response_id for node in forest.path_to(response_id)])
        )
        if not starts:
            return None
        node: TreeNode[ForestItem] | None = None
        for first_id in starts:
            if node is not None and node.allow_expand:
                self._populate(node)
                if not node.is_expanded:
                    node.expand()
            node = self._run_nodes.get(first_id)
            if node is None:
                return None
        return node

    def clear(self) -> Self:
        """Removes every node and forgets the forest."""
        self._forest = None
        self._run_nodes = {}
        self._populated = set()
        self._user_collapsed = set()
        self._path_starts = set()
        self._leaf_start = None
        self._streaming_node = None
        self._cache_revision = None
        self._items = {}
        self._starts = {}
        self._hoist_id = None
        self.show_root = False
        super().clear()
        return self

    # -- hoisting --------------------------------------------------------------------------

    def hoist(self, response_id: str) -> bool:
        """Shows only the subtree under the run holding `response_id`; False if unknown.

        A header line (the tree's root, shown while hoisted) says where the tree is
        hoisted. The current path is still highlighted where it passes through the
        subtree; the thread keeps showing the whole path.
        """
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return False
        from grove_explorer.client.forest import run_start

        start = run_start(forest, response_id)
        self._rebuild(hoist=start)
        node = self._run_nodes.get(start)
        if node is not None:
            self._move_cursor_to(node)
        return True

    def unhoist(self) -> bool:
        """Shows the whole forest again, the cursor on the run that was hoisted."""
        forest = self._forest
        previous = self.hoisted_id
        if forest is None:
            return False
        was_hoisted = self._hoist_id is not None
        self._rebuild(hoist=None)
        if previous is not None:
            node = self.reveal(previous)
            if node is not None:
                self._move_cursor_to(node)
        return was_hoisted

    def _rebuild(self, *, hoist: str | None) -> None:
        """Shows the forest from scratch with another hoist, keeping runs the user opened."""
        forest = self._forest
        assert forest is not None
        expanded = [
            node.data.first_id
            for node in self._run_nodes.values()
            if node.is_expanded and node.data is not None
        ]
        self.clear()
        self._forest = forest
        self._hoist_id = hoist
        self._show_header()
        self._populate(self.root)
        self._apply_path([node.response_id for node in forest.current_path], force_cursor=True)
        for first_id in expanded:
            node = self._run_nodes.get(first_id)
            if node is not None and node.allow_expand and not node.is_expanded:
                self._populate(node)
                node.expand()

    def _below_hoist(self, starts: list[str]) -> list[str]:
        """The run starts of a path from the hoisted run down (all when not hoisted)."""
        hoisted = self.hoisted_id
        if hoisted is None:
            return starts
        try:
            return starts[starts.index(hoisted) :]
        except ValueError:
            return []

    def _show_header(self) -> None:
        """Shows the root as a header line while hoisted ("⤒ hoisted at …")."""
        hoisted = self.hoisted_id
        if hoisted is None or self._forest is None:
            self.show_root = False
            return
        first = self._forest.responses[hoisted]
        glyph = HUMAN_GLYPH if first.is_human else MODEL_GLYPH
        line = first_line(first.message, self.TEXT_WIDTH - 10) or "(empty)"
        label = Text(
            f"{HOIST_MARK} hoisted at {glyph} {line} · U to unhoist",
            style=self._styles()["hoist"],
            no_wrap=True,
            end="",
        )
        if label != self.root.label:
            self.root.set_label(label)
        if not self.root.is_expanded:
            self.root.expand()
        self.show_root = True

    # -- subtree totals --------------------------------------------------------------------

    @property
    def show_totals(self) -> bool:
        """Whether labels start with their subtree's totals ("Σ12 3.4kt 5.2s")."""
        return self._show_totals

    @show_totals.setter
    def show_totals(self, value: bool) -> None:
        if value == self._show_totals:
            return
        self._show_totals = value
        self._relabel_all()

    def totals_for(self, response_id: str) -> Totals | None:
        """The totals of the subtree under `response_id` (computed if out of date)."""
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return None
        return self._current_totals(forest).get(response_id)

    def _current_totals(self, forest: Forest) -> dict[str, Totals]:
        revision = forest.revision
        if self._totals_revision != revision:
            from grove_explorer.client.forest import subtree_totals

            self._totals = subtree_totals(forest)
            self._totals_revision = revision
        return self._totals

    def _relabel_all(self) -> None:
        """Every label is stale (totals shown, hidden or out of date; a new theme).

        Labels are built when drawn (`RunNode`), so this costs nothing per node: only
        the visible lines are rebuilt, at the next paint.
        """
        self._relabel_every_run()

    # -- cursor ----------------------------------------------------------------------------

    @property
    def cursor_item(self) -> ForestItem | None:
        """The run under the cursor (None on the header line or an empty tree)."""
        node = self.cursor_node
        return node.data if node is not None else None

    def show_response(self, response_id: str) -> bool:
        """Moves the cursor to the run holding `response_id`, opening its ancestors."""
        node = self.reveal(response_id)
        if node is None:
            return False
        self._move_cursor_to(node)
        return True

    # -- Tree behaviour --------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Rebuilds labels when the theme changed the styles they are drawn with.

        Deferred: Textual updates component styles only after this notification, so
        reading them now would return the previous theme's colours.
        """
        super().notify_style_update()
        if not self._restyle_pending:
            self._restyle_pending = True
            self.call_later(self._restyle)

    def _restyle(self) -> None:
        self._restyle_pending = False
        previous = self._label_styles
        self._label_styles = None
        if self._styles() != previous:
            self._relabel_all()
            self._show_header()

    @on(Tree.NodeExpanded)
    def _populate_expanded(self, event: Tree.NodeExpanded[ForestItem]) -> None:
        """Creates a node's children the first time it is opened."""
        self._populate(event.node)
        if event.node.data is not None:
            self._user_collapsed.discard(event.node.data.first_id)

    @on(Tree.NodeCollapsed)
    def _remember_collapsed(self, event: Tree.NodeCollapsed[ForestItem]) -> None:
        """Remembers a collapse so path updates do not reopen the run behind the user."""
        if event.node.data is not None:
            self._user_collapsed.add(event.node.data.first_id)

    @on(Tree.NodeSelected)
    def _choose(self, event: Tree.NodeSelected[ForestItem]) -> None:
        """Turns Tree's selection into the domain message (the run's last response)."""
        event.stop()
        item = event.node.data
        if item is not None:
            self.post_message(self.ResponseChosen(item.last_id, item=item, forest_tree=self))

    @on(Tree.NodeHighlighted)
    def _highlight(self, event: Tree.NodeHighlighted[ForestItem]) -> None:
        """Turns cursor movement into the domain message."""
        event.stop()
        item = event.node.data
        if item is not None:
            self.post_message(self.ResponseHighlighted(item.last_id, item=item, forest_tree=self))

    # -- labels ----------------------------------------------------------------------------

    def _styles(self) -> dict[str, Style]:
        """Label styles from the component classes (see `labels.label_styles`), cached."""
        if self._label_styles is None:
            self._label_styles = label_styles(self)
        return self._label_styles

    def _label_for(
        self, item: ForestItem, *, text_width: int | None = None, depth_mark: bool = False
    ) -> Text:
        """The run's one-line label (see `labels.run_label`); the full one by default."""
        totals = None
        if self._show_totals and self._forest is not None:
            totals = self._current_totals(self._forest).get(item.first_id)
        return run_label(
            item,
            self._styles(),
            on_path=item.first_id in self._path_starts,
            totals=totals,
            live=self._live_text(item),
            text_width=self.TEXT_WIDTH if text_width is None else text_width,
            depth_mark=depth_mark,
        )

    def _live_text(self, item: ForestItem) -> str | None:
        """Live progress ("sampling… 42 tok") if the run ends in a placeholder, else None."""
        last = item.last
        if last.response_id == self._streaming_id:
            return f"sampling… {self._streaming_tokens} tok"
        if is_placeholder(last):
            return "sampling…"
        return None
