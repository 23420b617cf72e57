"""The forest pane: a conversation's response forest as a tree of branch points.

Why runs and not one node per reply: Textual's `Tree` rebuilds all of its lines after any
change and builds them recursively, so a node per reply makes a 10,000-reply forest slow to
paint and a deep one crash (RecursionError near depth 950). Each tree node here is a *run*:
a maximal chain of responses in which every response but the last has exactly one child.
A linear 100-message chat is one node; the tree only branches where the conversation does.

Three more guards keep big forests cheap:

- Lazy population: a node's children are created when it is first expanded, so only
  what the user opened (and the current path) is ever materialised.
- Depth guard: runs nested deeper than `max_depth` branch points are listed flat, marked
  "↳<depth>", under the run at `max_depth`; nothing is lost and nothing recurses deeply.
- Minimal refresh: `refresh_forest` relabels in place and adds or removes only the nodes
  whose runs changed, keeping expansion state and the cursor.

Two views on demand: `hoist` shows only the subtree under one run (a header line above it
says where, and `unhoist` returns to the whole forest), and `show_totals` prefixes each
label with its subtree's totals (responses, tokens, sampling time), computed for the whole
forest in one pass and cached per forest revision.

Attributes down, messages up: the screen calls `show_forest`, `refresh_forest`,
`set_current_path`, `set_streaming`, `hoist`/`unhoist` and sets `show_totals`; the widget
posts `ResponseChosen` and `ResponseHighlighted` and never touches the network. Message
text reaches a label only through `first_line`, inside a `rich.text.Text`, so it is never
parsed as markup and carries no control characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from rich.style import Style
from rich.text import Span, Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from grove_explorer.app.annotation_marks import run_marks
from grove_explorer.app.safe_text import first_line
from grove_explorer.client.forest import (
    Forest,
    Totals,
    path_run_starts,
    run_ids,
    run_start,
    subtree_totals,
)
from grove_explorer.client.models import ResponseNode

PENDING_PREFIX = "pending:"
"""Ids of streaming placeholders start with this (they are replaced when stored)."""

HUMAN_GLYPH = "●"
MODEL_GLYPH = "◆"
PARTIAL_MARK = "⋯"
MANUAL_MARK = "✎"
SHARED_MARK = "⇪"
QUERY_MARK = "⌕"
DEPTH_MARK = "↳"
HOIST_MARK = "⤒"
TOTALS_MARK = "Σ"

LEGEND: dict[str, str] = {
    HUMAN_GLYPH: "written by a person",
    MODEL_GLYPH: "written by a model",
    PARTIAL_MARK: "partial (stopped or failed before the end)",
    MANUAL_MARK: "edited or written by hand",
    SHARED_MARK: "shared",
    QUERY_MARK: "made by a query",
    DEPTH_MARK: "branch nested too deep to indent; the number is its depth",
    "+N": "N more messages in this run",
    "[k/n]": "k-th of n alternatives",
    f"{TOTALS_MARK}N Tt Ss": "subtree totals (S): N responses, T tokens, S seconds sampling",
    HOIST_MARK: "the tree is hoisted at a run (U shows the whole forest again)",
}
"""What the glyphs in labels mean, for a help screen."""

# Used until the widget's CSS is applied (labels are rebuilt once it is).
_FALLBACK_STYLES: dict[str, Style] = {
    "human": Style(color="green"),
    "model": Style(color="blue"),
    "current": Style(bold=True),
    "muted": Style(dim=True),
    "marker": Style(color="yellow"),
    "annotation": Style(color="magenta", bold=True),
    "hoist": Style(color="cyan", italic=True),
    "streaming": Style(italic=True, color="magenta"),
}


def _compact(number: int) -> str:
    """1234 → "1.2k", 56_789 → "57k", 1_500_000 → "1.5M" (short enough for a label)."""
    if number < 1000:
        return str(number)
    size, unit = (1_000_000, "M") if number >= 1_000_000 else (1_000, "k")
    value = number / size
    return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"


def _duration(seconds: float) -> str:
    """Seconds as "0.8s", "42s", "12m", "3.1h"."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def format_totals(totals: Totals) -> str:
    """A subtree's totals as a label shows them: "Σ12 3.4kt 5.2s"."""
    count, tokens, seconds = totals
    return f"{TOTALS_MARK}{count} {_compact(tokens)}t {_duration(seconds)}"


class ForestItem(BaseModel):
    """What one tree node stands for: a run of responses and where it sits.

    Holds the run's `ResponseNode`s themselves (frozen, so sharing them is safe) rather
    than ids only, so a handler of a tree message has the messages without a lookup.
    """

    model_config = ConfigDict(frozen=True)

    responses: tuple[ResponseNode, ...] = Field(min_length=1)
    depth: int = 0
    """Branch points above this run (0 for a root's run)."""
    sibling_index: int = 1
    """1-based position of the first response among its siblings."""
    sibling_count: int = 1
    flattened: bool = False
    """Listed flat under the run at the depth limit (its own children are listed too)."""

    @property
    def first(self) -> ResponseNode:
        """The run's first response (a root, or a child of a branch point)."""
        return self.responses[0]

    @property
    def last(self) -> ResponseNode:
        """The run's last response: a leaf or a branch point."""
        return self.responses[-1]

    @property
    def first_id(self) -> str:
        """Id of the first response; identifies the run (and its tree node)."""
        return self.responses[0].response_id

    @property
    def last_id(self) -> str:
        """Id of the last response: what choosing the run makes the leaf."""
        return self.responses[-1].response_id

    @property
    def response_ids(self) -> tuple[str, ...]:
        """Ids of the run's responses, first to last."""
        return tuple(node.response_id for node in self.responses)

    @property
    def extra(self) -> int:
        """How many responses follow the first (shown as "+N")."""
        return len(self.responses) - 1

    @property
    def marks(self) -> str:
        """Markers for flags any response of the run carries, in a fixed order."""
        responses = self.responses
        marks = ""
        if any(node.partial for node in responses):
            marks += PARTIAL_MARK
        if any(node.manual for node in responses):
            marks += MANUAL_MARK
        if any(node.shared for node in responses):
            marks += SHARED_MARK
        if any(node.query for node in responses):
            marks += QUERY_MARK
        return marks

    @property
    def annotation_marks(self) -> str:
        """Bookmark, rating, tag-count and note markers of the run's responses."""
        return run_marks(node.annotation for node in self.responses)


def is_placeholder(node: ResponseNode) -> bool:
    """True for a reply still streaming (placeholders are always leaves)."""
    return node.streaming or node.response_id.startswith(PENDING_PREFIX)


def _same_run(old: ForestItem, new: ForestItem) -> bool:
    """True when `new` shows exactly what `old` did.

    Forest responses are frozen and replaced (never mutated) when they change, so
    identity of the run's responses is a cheap and exact change test.
    """
    if old is new:
        return True
    return (
        old.depth == new.depth
        and old.sibling_index == new.sibling_index
        and old.sibling_count == new.sibling_count
        and old.flattened == new.flattened
        and len(old.responses) == len(new.responses)
        and (
            old.responses is new.responses
            or all(a is b for a, b in zip(old.responses, new.responses, strict=True))
        )
    )


class ForestTree(Tree[ForestItem]):
    """The response forest of one conversation, one node per run of responses."""

    MAX_DEPTH: ClassVar[int] = 300
    """Branch-point nesting shown as indentation; deeper runs are listed flat.

    Well below the ~950 levels at which Tree's recursive line builder overflows the stack,
    leaving room for the frames of whatever calls it.
    """
    TEXT_WIDTH: ClassVar[int] = 32
    """Characters of a run's first line shown in its label."""

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
        """
        previous = self._streaming_node
        self._streaming_id = response_id
        self._streaming_tokens = tokens
        node = self._node_ending_in(response_id) if response_id is not None else None
        self._streaming_node = node
        if previous is not None and previous is not node:
            self._relabel(previous)
        if node is not None:
            self._relabel(node)

    def node_for(self, response_id: str) -> TreeNode[ForestItem] | None:
        """The materialised node whose run holds `response_id`, if there is one."""
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return None
        return self._run_nodes.get(run_start(forest, response_id))

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

    @property
    def hoisted_id(self) -> str | None:
        """The first response of the run the tree is hoisted at (None: not hoisted)."""
        forest = self._forest
        if forest is None or self._hoist_id is None or self._hoist_id not in forest.responses:
            return None
        return run_start(forest, self._hoist_id)

    def hoist(self, response_id: str) -> bool:
        """Shows only the subtree under the run holding `response_id`; False if unknown.

        A header line (the tree's root, shown while hoisted) says where the tree is
        hoisted. The current path is still highlighted where it passes through the
        subtree; the thread keeps showing the whole path.
        """
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return False
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
            self._totals = subtree_totals(forest)
            self._totals_revision = revision
        return self._totals

    def _relabel_all(self) -> None:
        """Rebuilds every materialised label (totals shown, hidden or out of date)."""
        for node in list(self._run_nodes.values()):
            self._relabel(node)

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

    def scroll_to_line(self, line: int, animate: bool = True) -> None:
        """Scrolls to `line`, and sideways when its label would start outside the pane.

        Tree never scrolls sideways (it finds that jarring), but a few dozen branch points
        down a label would sit entirely right of a narrow pane, leaving only guide lines.
        """
        super().scroll_to_line(line, animate=animate)
        node = self.get_node_at_line(line)
        width = self.scrollable_content_region.width
        if node is None or width <= 0:
            return
        depth = 0
        parent = node.parent
        while parent is not None and parent is not self.root:
            depth += 1
            parent = parent.parent
        indent = depth * self.guide_depth
        left = self.scroll_x
        if indent < left or indent > left + width * 2 // 3:
            self.scroll_to(x=max(indent - 2 * self.guide_depth, 0), animate=False)

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

    # -- building --------------------------------------------------------------------------

    def _item(
        self,
        first_id: str,
        depth: int,
        sibling_index: int,
        sibling_count: int,
        flattened: bool = False,
    ) -> ForestItem:
        """The run starting at `first_id`, the same object while the forest's structure is.

        Reusing it makes `_update` a no-op for unchanged runs. A hit is checked against
        the nodes now stored for the run's ends: the service replaces a streaming
        placeholder (always a run's last node) in place at each token.
        """
        forest = self._forest
        assert forest is not None
        responses = forest.responses
        key = (first_id, depth, sibling_index, sibling_count, flattened)
        items = self._valid_caches(forest)
        cached = items.get(key)
        if (
            cached is not None
            and responses.get(first_id) is cached.first
            and responses.get(cached.last_id) is cached.last
        ):
            return cached
        # Built without validation: the run is never empty and holds forest nodes.
        item = ForestItem.model_construct(
            responses=tuple(responses[rid] for rid in run_ids(forest, first_id)),
            depth=depth,
            sibling_index=sibling_index,
            sibling_count=sibling_count,
            flattened=flattened,
        )
        items[key] = item
        return item

    def _valid_caches(self, forest: Forest) -> dict[tuple[str, int, int, int, bool], ForestItem]:
        """The run cache, emptied (with the path-start cache) if the structure changed."""
        revision = forest.revision
        if revision != self._cache_revision:
            self._cache_revision = revision
            self._items = {}
            self._starts = {}
        return self._items

    def _starts_to(self, path_ids: Sequence[str]) -> list[str]:
        """`path_run_starts` for a root-to-leaf path, cached per leaf and structure.

        A root path is determined by its leaf, so (leaf, length) identifies it; anything
        else (a path naming unknown ids) is computed afresh.
        """
        forest = self._forest
        if forest is None or not path_ids:
            return []
        self._valid_caches(forest)
        leaf = path_ids[-1]
        key = (leaf, len(path_ids))
        cached = self._starts.get(key)
        if cached is None:
            cached = path_run_starts(forest, path_ids)
            if leaf in forest.responses and (not cached or cached[0] == path_ids[0]):
                self._starts[key] = cached
        return list(cached)

    def _has_children(self, item: ForestItem) -> bool:
        forest = self._forest
        return (
            forest is not None
            and not item.flattened
            and len(forest.children.get(item.last_id, ())) >= 2
        )

    def _child_items(self, item: ForestItem | None) -> list[ForestItem]:
        """The runs shown under `item` (under the hidden root for None), in order."""
        forest = self._forest
        if forest is None:
            return []
        if item is None:
            hoisted = self.hoisted_id
            if hoisted is not None:
                k, n = forest.sibling_index(hoisted)
                return [self._item(hoisted, 0, k, n)]
            roots = forest.children_of(None)
            return [self._item(rid, 0, k, len(roots)) for k, rid in enumerate(roots, 1)]
        if not self._has_children(item):
            return []
        kids = forest.children_of(item.last_id)
        if item.depth < self.max_depth:
            return [self._item(rid, item.depth + 1, k, len(kids)) for k, rid in enumerate(kids, 1)]
        return self._flat_descendants(item)

    def _flat_descendants(self, item: ForestItem) -> list[ForestItem]:
        """Every run below `item`, depth first, as flat items (iterative: can be deep)."""
        forest = self._forest
        assert forest is not None
        flat: list[ForestItem] = []
        stack: list[tuple[str, int, int, int]] = []

        def push(parent_id: str, depth: int) -> None:
            kids = forest.children_of(parent_id)
            if len(kids) >= 2:
                count = len(kids)
                stack.extend(
                    (rid, depth, k, count) for k, rid in reversed(list(enumerate(kids, 1)))
                )

        push(item.last_id, item.depth + 1)
        while stack:
            first_id, depth, k, count = stack.pop()
            sub = self._item(first_id, depth, k, count, flattened=True)
            flat.append(sub)
            push(sub.last_id, depth + 1)
        return flat

    def _add(
        self, parent: TreeNode[ForestItem], item: ForestItem, before: int | None = None
    ) -> TreeNode[ForestItem]:
        node = parent.add(
            self._label_for(item), item, before=before, allow_expand=self._has_children(item)
        )
        self._run_nodes[item.first_id] = node
        return node

    def _populate(self, node: TreeNode[ForestItem]) -> None:
        """Creates `node`'s children once; later changes come through `_reconcile`."""
        if node.id in self._populated or self._forest is None:
            return
        self._populated.add(node.id)
        for item in self._child_items(None if node is self.root else node.data):
            self._add(node, item)

    def _drop(self, node: TreeNode[ForestItem]) -> None:
        """Removes a node and forgets it and its descendants (iteratively)."""
        stack = [node]
        while stack:
            current = stack.pop()
            self._populated.discard(current.id)
            item = current.data
            if item is not None and self._run_nodes.get(item.first_id) is current:
                del self._run_nodes[item.first_id]
            if current is self._streaming_node:
                self._streaming_node = None
            stack.extend(current.children)
        node.remove()

    def _reconcile(self, expanded_firsts: set[str], expanded_lasts: set[str]) -> None:
        """Matches materialised nodes to the forest, level by level from the root."""
        stack: list[TreeNode[ForestItem]] = [self.root]
        while stack:
            parent = stack.pop()
            if parent.id not in self._populated:
                continue
            expected = self._child_items(None if parent is self.root else parent.data)
            wanted = {item.first_id for item in expected}
            current = list(parent.children)
            kept = [node for node in current if node.data and node.data.first_id in wanted]
            kept_ids = [node.data.first_id for node in kept if node.data is not None]
            kept_set = set(kept_ids)
            if kept_ids != [item.first_id for item in expected if item.first_id in kept_set]:
                kept = []  # Reordered (never happens with append-only children): rebuild.
            keep = {id(node) for node in kept}
            for node in current:
                if id(node) not in keep:
                    self._drop(node)
            by_first = {node.data.first_id: node for node in kept if node.data}
            for index, item in enumerate(expected):
                child = by_first.get(item.first_id)
                if child is None:
                    child = self._add(parent, item, before=index)
                    if child.allow_expand and (
                        item.first_id in expanded_firsts or item.last_id in expanded_lasts
                    ):
                        self._populate(child)
                        child.expand()
                else:
                    self._update(child, item)
                if child.id in self._populated:
                    stack.append(child)

    def _update(self, node: TreeNode[ForestItem], item: ForestItem) -> None:
        previous = node.data
        node.data = item
        allow = self._has_children(item)
        if node.allow_expand != allow:
            node.allow_expand = allow
            if not allow:
                for child in list(node.children):
                    self._drop(child)
                self._populated.discard(node.id)
        if previous is None or not _same_run(previous, item):
            self._relabel(node)

    def _node_ending_in(self, response_id: str) -> TreeNode[ForestItem] | None:
        cached = self._streaming_node
        if (
            cached is not None
            and cached.data is not None
            and cached.data.last_id == response_id
            and self._run_nodes.get(cached.data.first_id) is cached
        ):
            return cached
        return self.node_for(response_id)

    def _move_cursor_to(self, node: TreeNode[ForestItem]) -> None:
        # Reading `last_line` builds the tree's lines now, so `node.line` is current and
        # the cursor lands synchronously (the screen and tests see it at once).
        if self.last_line < 0 or node.line < 0:
            return
        self.move_cursor(node, animate=False)
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self) -> None:
        node = self.cursor_node
        if node is not None and node.line >= 0:
            self.scroll_to_node(node, animate=False)

    # -- labels ----------------------------------------------------------------------------

    def _styles(self) -> dict[str, Style]:
        """Label styles from the component classes: colour and text style, no background.

        The full style is used because a translucent colour such as `$text-muted` only
        resolves against the background (the partial style blends it with white). The
        background is dropped so hover and cursor highlights still show through labels.
        """
        if self._label_styles is None:
            styles: dict[str, Style] = {}
            for role, fallback in _FALLBACK_STYLES.items():
                try:
                    full = self.get_component_rich_style(f"forest-tree--{role}")
                except KeyError:  # CSS not applied yet (not mounted): rebuilt once it is
                    styles[role] = fallback
                    continue
                styles[role] = Style(
                    color=full.color,
                    bold=full.bold,
                    italic=full.italic,
                    dim=full.dim,
                    underline=full.underline,
                )
            self._label_styles = styles
        return self._label_styles

    def _relabel(self, node: TreeNode[ForestItem]) -> None:
        item = node.data
        if item is None:
            return
        label = self._label_for(item)
        if label != node.label:
            node.set_label(label)

    def _label_for(self, item: ForestItem) -> Text:
        """The run's one-line label, assembled from plain strings (never markup).

        Built as one string plus spans rather than by repeated `Text.append`, which is
        several times slower and runs once per materialised node.
        """
        styles = self._styles()
        muted = styles["muted"]
        first = item.first
        body = styles["current"] if item.first_id in self._path_starts else None
        pieces: list[tuple[str, Style | None]] = []
        if item.flattened:
            pieces.append((f"{DEPTH_MARK}{item.depth} ", muted))
        glyph_style = styles["human"] if first.is_human else styles["model"]
        glyph = HUMAN_GLYPH if first.is_human else MODEL_GLYPH
        pieces.append((glyph, glyph_style))  # keeps its role colour on the current path
        pieces.append((" ", None))
        # Totals, sibling position and markers come before the text, which the pane may
        # cut off.
        if self._show_totals and self._forest is not None:
            totals = self._current_totals(self._forest).get(item.first_id)
            if totals is not None:
                pieces.append((f"{format_totals(totals)} ", muted))
        if item.sibling_count > 1:
            pieces.append((f"{item.sibling_index}/{item.sibling_count} ", muted))
        marks = item.marks
        if marks:
            pieces.append((f"{marks} ", styles["marker"]))
        noted = item.annotation_marks
        if noted:
            pieces.append((f"{noted} ", styles["annotation"]))
        live = self._live_text(item)
        if live is not None and len(item.responses) == 1:
            pieces.append((live, styles["streaming"]))
        else:
            line = first_line(first.message, self.TEXT_WIDTH).replace("\t", " ")
            if line:
                pieces.append((line, body))
            else:
                pieces.append(("(empty)", muted + body if body else muted))
        if item.extra:
            pieces.append((f" +{item.extra}", muted))
        if live is not None and len(item.responses) > 1:
            pieces.append((f" {MODEL_GLYPH} {live}", styles["streaming"]))
        spans: list[Span] = []
        offset = 0
        for text, style in pieces:
            end = offset + len(text)
            if style is not None and end > offset:
                spans.append(Span(offset, end, style))
            offset = end
        return Text("".join(text for text, _ in pieces), spans=spans, no_wrap=True, end="")

    def _live_text(self, item: ForestItem) -> str | None:
        """Live progress ("sampling… 42 tok") if the run ends in a placeholder, else None."""
        last = item.last
        if last.response_id == self._streaming_id:
            return f"sampling… {self._streaming_tokens} tok"
        if is_placeholder(last):
            return "sampling…"
        return None
