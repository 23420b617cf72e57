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
- Capped indentation (`fitted`): indentation stops at what the pane's width allows;
  deeper runs are drawn at that level with a "↳<depth>" marker, and labels are fitted
  to the pane when drawn (text shortened first), so a label and its "+N" always show.
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

The package: `items` (what a node stands for, the glyphs), `labels` (how a run is drawn),
`runs` (runs as tree nodes, kept in step with the forest), `fitted` (lines with capped
indentation, labels fitted to the pane) and `tree` (the widget). The
tree algorithms themselves (runs, paths, preorder, subtree totals) are the client's, in
`client.forest`; they are re-exported here for the widget's callers.
"""

from typing import TYPE_CHECKING, Any

from grove_explorer.app.widgets.forest_tree.items import (
    DEPTH_MARK,
    HOIST_MARK,
    HUMAN_GLYPH,
    LEGEND,
    MANUAL_MARK,
    MODEL_GLYPH,
    PARTIAL_MARK,
    PENDING_PREFIX,
    QUERY_MARK,
    SHARED_MARK,
    TOTALS_MARK,
    ForestItem,
    is_placeholder,
)
from grove_explorer.app.widgets.forest_tree.labels import format_totals
from grove_explorer.app.widgets.forest_tree.tree import ForestTree

if TYPE_CHECKING:
    from grove_explorer.client.forest import (
        Totals,
        path_run_starts,
        preorder,
        run_ids,
        run_start,
        subtree_totals,
    )

_FROM_THE_CLIENT = frozenset(
    ("Totals", "path_run_starts", "preorder", "run_ids", "run_start", "subtree_totals")
)
"""The client's tree algorithms, re-exported on first use: `client.forest` (pydantic's
`Forest`) is not needed before the app's first frame."""


def __getattr__(name: str) -> Any:
    if name in _FROM_THE_CLIENT:
        from grove_explorer.client import forest

        return getattr(forest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEPTH_MARK",
    "HOIST_MARK",
    "HUMAN_GLYPH",
    "LEGEND",
    "MANUAL_MARK",
    "MODEL_GLYPH",
    "PARTIAL_MARK",
    "PENDING_PREFIX",
    "QUERY_MARK",
    "SHARED_MARK",
    "TOTALS_MARK",
    "ForestItem",
    "ForestTree",
    "Totals",
    "format_totals",
    "is_placeholder",
    "path_run_starts",
    "preorder",
    "run_ids",
    "run_start",
    "subtree_totals",
]
