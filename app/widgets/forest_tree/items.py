"""What the forest pane's nodes stand for: runs of responses, and the glyphs that mark them.

`ForestItem` is the data of one tree node (a run, its depth and sibling position); the
glyph constants and `LEGEND` are what its label shows, for the help screen too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grove_explorer.app.annotation_marks import run_marks
from grove_explorer.app.elsewhere_marks import ELSEWHERE_MARK
from grove_explorer.app.fusion_marks import FUSED_MARK
from grove_explorer.app.replay_marks import REPLAY_MARK

if TYPE_CHECKING:
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
    FUSED_MARK: "fused from sibling replies (Compare F, grove fuse)",
    REPLAY_MARK: "replays a turn of another path under another setup (P, grove replay)",
    ELSEWHERE_MARK: "made elsewhere while you watched (another user or session)",
    DEPTH_MARK: "branch nested too deep to indent; the number is its depth",
    "+N": "N more messages in this run",
    "[k/n]": "k-th of n alternatives",
    f"{TOTALS_MARK}N Tt Ss": "subtree totals (S): N responses, T tokens, S seconds sampling",
    HOIST_MARK: "the tree is hoisted at a run (U shows the whole forest again)",
}
"""What the glyphs in labels mean, for a help screen."""


@dataclass(frozen=True, slots=True)
class ForestItem:
    """What one tree node stands for: a run of responses and where it sits.

    Holds the run's `ResponseNode`s themselves (frozen, so sharing them is safe) rather
    than ids only, so a handler of a tree message has the messages without a lookup.
    A plain frozen dataclass (the forest pane builds one per run it shows, and its
    module is imported before the app's first frame, which needs no pydantic).
    """

    responses: tuple[ResponseNode, ...]
    """The run's responses, first to last (never empty)."""
    depth: int = 0
    """Branch points above this run (0 for a root's run)."""
    sibling_index: int = 1
    """1-based position of the first response among its siblings."""
    sibling_count: int = 1
    flattened: bool = False
    """Listed flat under the run at the depth limit (its own children are listed too)."""
    _marks: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    """`marks` and `annotation_marks` once read: each scans every response of the run
    (thousands in a deep path's run) and the label is built at every paint of the node.
    The responses are frozen, so they cannot go stale."""

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
        return self._all_marks()[0]

    @property
    def annotation_marks(self) -> str:
        """Bookmark, rating, tag-count and note markers of the run's responses."""
        return self._all_marks()[1]

    def _all_marks(self) -> tuple[str, str]:
        """(`marks`, `annotation_marks`), computed at the first read."""
        cached = self._marks
        if cached is None:
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
            if any(node.merged_from for node in responses):
                marks += FUSED_MARK
            if any(node.replay_of for node in responses):
                marks += REPLAY_MARK
            if any(node.made_by is not None for node in responses):
                marks += ELSEWHERE_MARK
            cached = (marks, run_marks(node.annotation for node in responses))
            object.__setattr__(self, "_marks", cached)  # frozen: a cache, not state
        return cached


def is_placeholder(node: ResponseNode) -> bool:
    """True for a reply still streaming (placeholders are always leaves)."""
    return node.streaming or node.response_id.startswith(PENDING_PREFIX)


def same_run(old: ForestItem, new: ForestItem) -> bool:
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
