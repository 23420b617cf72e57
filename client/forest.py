"""The one client-side tree model: a conversation's response forest and the user's place.

`Forest` holds the responses by id, the children of each in creation order (the order
they were started in: see `ResponseNode.order_key`), the current
leaf and the child last visited under every node (so switching to a sibling returns to
where the user was under it, falling back to the newest child). The SDK `Conversation`
keeps one and moves its leaf; the service publishes it, the widgets draw it and export
walks it — there is no second copy to drift. The pure tree algorithms over it (tree
order, runs of single children, the runs a path crosses, subtree totals) live here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import count

from pydantic import BaseModel, Field, PrivateAttr

from grove_explorer.client.models import ConversationSummary, ResponseNode


class _PathMemo:
    """Root paths already walked in one `responses` dict, until its structure changes.

    Shared (not copied) by shallow `model_copy`s of a forest, which share the dicts too,
    so a change made through either forest clears it for both.
    """

    __slots__ = ("paths", "positions", "recorded", "responses", "revision")

    LIMIT = 8
    """Paths kept: the current one and a few others (a sibling switch walks a handful)."""

    # Revisions are unique across memos, so a forest whose `responses` dict was replaced
    # never shows a revision it showed before.
    _revisions = count()

    def __init__(self, responses: dict[str, ResponseNode]) -> None:
        self.responses = responses
        self.paths: dict[str | None, tuple[ResponseNode, ...]] = {}
        # Each id's index among its siblings, filled a whole sibling list at a time (see
        # `Forest.sibling_index`): an export numbers 10,000 siblings in one pass over them.
        self.positions: dict[str, int] = {}
        # (last_visited, leaf): `Forest.select` recorded the leaf's whole path in that
        # dict, and no entry of it has changed since (see `Forest.select`).
        self.recorded: tuple[dict[str | None, str], str] | None = None
        self.revision = next(self._revisions)

    def __eq__(self, other: object) -> bool:
        """Always equal: a cache never makes two forests compare unequal."""
        return other is None or isinstance(other, _PathMemo)

    __hash__ = None  # type: ignore[assignment]


class Forest(BaseModel):
    """The response forest of one conversation plus the user's place in it.

    Change its structure through `add`, `remove` and `replace_placeholder`: they clear the
    memo of root paths (`path_to` walks a 5,000-deep path in milliseconds and a sibling
    switch needs it several times) and advance `revision`. Replacing a node directly in
    `responses` is noticed for that node's own path only (what the service does with a
    streaming placeholder, always a leaf).
    """

    conversation: ConversationSummary
    responses: dict[str, ResponseNode] = Field(default_factory=dict)
    # Children of each response id in creation order; the key None holds the roots.
    children: dict[str | None, list[str]] = Field(default_factory=dict)
    leaf_id: str | None = None
    # The child last visited under each node (None: among the roots).
    last_visited: dict[str | None, str] = Field(default_factory=dict)
    _memo: _PathMemo | None = PrivateAttr(default=None)

    @property
    def revision(self) -> int:
        """A number that changes whenever `add`, `remove` or `replace_placeholder` runs.

        Lets views cache what they derive from the structure (runs, paths) per revision.
        """
        return self._memo_for_responses().revision

    def _memo_for_responses(self) -> _PathMemo:
        """The memo of this forest's `responses` dict (a new one if it was replaced)."""
        memo = self._memo
        if memo is None or memo.responses is not self.responses:
            memo = self._memo = _PathMemo(self.responses)
        return memo

    def _changed(self) -> None:
        """Forgets memoised paths after a structural change."""
        memo = self._memo_for_responses()
        memo.paths.clear()
        memo.positions.clear()
        memo.revision = next(memo._revisions)

    @classmethod
    def build(
        cls, conversation: ConversationSummary, nodes: Iterable[ResponseNode], leaf_id: str | None
    ) -> Forest:
        """Builds a forest from nodes in creation order and selects `leaf_id`.

        The same as `add` for each node, with the memo cleared once at the end (a loaded
        conversation of 10,000 responses is built in one pass).
        """
        forest = cls(conversation=conversation)
        responses = forest.responses
        children = forest.children
        for node in nodes:
            response_id = node.response_id
            if response_id in responses:
                responses[response_id] = node
                continue
            responses[response_id] = node
            siblings = children.get(node.parent_id)
            if siblings is None:
                children[node.parent_id] = [response_id]
                continue
            siblings.append(response_id)
            if not forest._in_order(siblings, node):
                forest._order_siblings(siblings)
        forest._changed()
        forest.select(leaf_id)
        return forest

    # -- structure -------------------------------------------------------------------------

    def add(self, node: ResponseNode) -> None:
        """Adds a node (or replaces one with the same id, keeping its position).

        A new node goes after its siblings, then takes its place by creation order (see
        `_order_siblings`); nodes arriving in creation order (a loaded conversation) are
        just appended.
        """
        if node.response_id not in self.responses:
            siblings = self.children.setdefault(node.parent_id, [])
            siblings.append(node.response_id)
            self.responses[node.response_id] = node
            if len(siblings) > 1 and not self._in_order(siblings, node):
                self._order_siblings(siblings)
        else:
            self.responses[node.response_id] = node
        self._changed()

    def _in_order(self, siblings: list[str], node: ResponseNode) -> bool:
        """True when `node`, just appended to `siblings`, needs no reordering (the usual case).

        It compares with the last earlier sibling that has a time (placeholders have none).
        """
        key = node.order_key
        if key is None:
            return True
        responses = self.responses
        for index in range(len(siblings) - 2, -1, -1):
            before = responses[siblings[index]].order_key
            if before is not None:
                return before <= key
        return True

    def _order_siblings(self, siblings: list[str]) -> None:
        """Puts the siblings in creation order, in place.

        Creation order is start order (`ResponseNode.order_key`): parallel samples are
        numbered k/n by when they started, live and after a reload alike, whatever order
        they finish in. A streaming placeholder (or a node without a time) has no time of
        its own: it stays right after the sibling it followed when added (it started after
        that one), and those before any timed sibling stay first. Stable: equal times keep
        their order.
        """
        responses = self.responses
        head: list[str] = []
        groups: list[tuple[datetime, list[str]]] = []
        for response_id in siblings:
            key = responses[response_id].order_key
            if key is not None:
                groups.append((key, [response_id]))
            elif groups:
                groups[-1][1].append(response_id)
            else:
                head.append(response_id)
        groups.sort(key=lambda group: group[0])
        siblings[:] = head + [rid for _, ids in groups for rid in ids]

    def remove(self, response_id: str) -> None:
        """Removes a leaf node (e.g. a streaming placeholder) from the forest."""
        node = self.responses.pop(response_id, None)
        if node is None:
            return
        self._changed()
        siblings = self.children.get(node.parent_id, [])
        if response_id in siblings:
            siblings.remove(response_id)
        if self.last_visited.get(node.parent_id) == response_id:
            del self.last_visited[node.parent_id]
            self._memo_for_responses().recorded = None
        if self.leaf_id == response_id:
            self.leaf_id = node.parent_id

    def replace_placeholder(self, placeholder_id: str, node: ResponseNode) -> None:
        """Swaps a streaming placeholder for the stored response, keeping the leaf on it."""
        was_leaf = self.leaf_id == placeholder_id
        parent_visit = self.last_visited.get(node.parent_id) == placeholder_id
        recorded = self._memo_for_responses().recorded
        # The placeholder's recorded path is the stored response's once the visit moves.
        follows = parent_visit and recorded is not None and recorded[1] == placeholder_id
        siblings = self.children.get(node.parent_id, [])
        if node.response_id in self.responses:  # stored already: the placeholder just goes
            self.responses[node.response_id] = node
            self.remove(placeholder_id)
        elif placeholder_id in siblings:
            siblings[siblings.index(placeholder_id)] = node.response_id
            self.responses.pop(placeholder_id, None)
            self.responses[node.response_id] = node
            self._order_siblings(siblings)
            self._changed()
        else:
            self.add(node)
        if parent_visit:
            self.last_visited[node.parent_id] = node.response_id
            self._memo_for_responses().recorded = (
                (self.last_visited, node.response_id) if follows else None
            )
        if was_leaf:
            self.leaf_id = node.response_id

    def children_of(self, response_id: str | None) -> list[str]:
        """Ids of the children of `response_id` (roots for None), oldest first."""
        return self.children.get(response_id, [])

    def siblings_of(self, response_id: str) -> list[str]:
        """Ids of the node and its siblings, oldest first."""
        return self.children_of(self.responses[response_id].parent_id)

    def sibling_index(self, response_id: str) -> tuple[int, int]:
        """(k, n): the node is the k-th (1-based) of n siblings (ValueError: not among them).

        Positions are indexed a whole sibling list at a time and each answer is checked
        against the list (`siblings[k - 1]` is the node), so numbering every one of n
        siblings costs O(n), not the O(n²) of searching the list for each, and a list
        changed in place is simply indexed again.
        """
        siblings = self.siblings_of(response_id)
        positions = self._memo_for_responses().positions
        index = positions.get(response_id, -1)
        if not (0 <= index < len(siblings) and siblings[index] == response_id):
            for position, sibling in enumerate(siblings):
                positions[sibling] = position
            index = positions.get(response_id, -1)
            if not (0 <= index < len(siblings) and siblings[index] == response_id):
                raise ValueError(f"{response_id!r} is not among its parent's children")
        return index + 1, len(siblings)

    def path_model(self, response_id: str | None) -> str:
        """The model of the latest sampled reply on the path to `response_id` ("" if none).

        Hand-written replies do not count: they name no model that could continue.
        """
        for node in reversed(self.path_to(response_id)):
            if node.sender == "model" and not node.manual and node.model_name:
                return node.model_name
        return ""

    def path_to(self, response_id: str | None) -> list[ResponseNode]:
        """The nodes from the root down to `response_id` (iterative: paths can be deep).

        Memoised until the structure changes (a fresh list each call: callers may keep or
        change it). A hit is checked against the node now stored under `response_id`.
        """
        memo = self._memo_for_responses()
        cached = memo.paths.get(response_id)
        if cached is not None and (
            response_id is None or self.responses.get(response_id) is cached[-1]
        ):
            return list(cached)
        responses = self.responses
        path: list[ResponseNode] = []
        current = response_id
        limit = len(responses)
        while current is not None:
            node = responses.get(current) if path else responses[current]
            if node is None:  # a parent missing from a hand-made document ends the walk
                break
            path.append(node)
            current = node.parent_id
            if len(path) >= limit:  # so does a cycle in one
                break
        path.reverse()
        if len(memo.paths) >= memo.LIMIT:
            memo.paths.clear()
        memo.paths[response_id] = tuple(path)
        return path

    @property
    def committed_leaf(self) -> str | None:
        """The leaf, skipping streaming placeholders (which the server does not know)."""
        leaf = self.leaf_id
        while leaf is not None and self.responses[leaf].streaming:
            leaf = self.responses[leaf].parent_id
        return leaf

    @property
    def current_path(self) -> list[ResponseNode]:
        """The path root → leaf the user is looking at."""
        return self.path_to(self.leaf_id)

    # -- navigation ------------------------------------------------------------------------

    def select(self, leaf_id: str | None) -> None:
        """Makes `leaf_id` the leaf and remembers each step of its path as visited.

        Walks up from the leaf without building the path (after a new reply the memo
        of paths is empty, and a deep path was walked twice per turn); it stops where
        `path_to` does: at a root, a parent missing from a hand-made document, or a cycle.
        It also stops at the leaf it last recorded, when no entry of `last_visited` has
        changed since (`remove` and `replace_placeholder` say when one has; a new dict is
        a new one): the rest of the way up is recorded already. A turn that extends a
        deep path then costs its new steps, not the whole path.
        """
        responses = self.responses
        if leaf_id is not None and leaf_id not in responses:
            raise KeyError(f"Response {leaf_id!r} is not in this conversation.")
        self.leaf_id = leaf_id
        visited = self.last_visited
        memo = self._memo_for_responses()
        recorded = memo.recorded
        stop = recorded[1] if recorded is not None and recorded[0] is visited else None
        memo.recorded = None if leaf_id is None else (visited, leaf_id)
        current = leaf_id
        steps = len(responses)
        while current is not None and steps > 0:
            if current == stop:
                break
            node = responses.get(current)
            if node is None:
                break
            visited[node.parent_id] = current
            current = node.parent_id
            steps -= 1

    def descend(self, response_id: str) -> str:
        """The leaf reached from `response_id` following last-visited (else newest) children."""
        current = response_id
        while True:
            kids = self.children.get(current)
            if not kids:
                return current
            remembered = self.last_visited.get(current)
            current = remembered if remembered in kids else kids[-1]

    def switch_sibling(self, response_id: str, delta: int) -> str | None:
        """Moves to the sibling `delta` steps away and on to the leaf last visited under it.

        Returns the new leaf, or None when there is no sibling in that direction.
        """
        siblings = self.siblings_of(response_id)
        index = siblings.index(response_id) + delta
        if not 0 <= index < len(siblings):
            return None
        leaf = self.descend(siblings[index])
        self.select(leaf)
        return leaf


# -- tree algorithms ---------------------------------------------------------------------


def run_ids(forest: Forest, first_id: str) -> tuple[str, ...]:
    """The ids of the run starting at `first_id`: down while there is exactly one child."""
    ids = [first_id]
    current = first_id
    while True:
        kids = forest.children.get(current)
        if not kids or len(kids) != 1:
            return tuple(ids)
        current = kids[0]
        ids.append(current)


def run_start(forest: Forest, response_id: str) -> str:
    """The first response of the run holding `response_id` (a root or a branch's child)."""
    current = response_id
    while True:
        parent = forest.responses[current].parent_id
        if parent is None or len(forest.children.get(parent, ())) != 1:
            return current
        current = parent


def preorder(forest: Forest) -> list[str]:
    """Every response id in tree order: depth first, older siblings first (iterative).

    The order the forest pane lists runs in, top to bottom, and the order bookmarks are
    visited in.
    """
    children = forest.children
    order: list[str] = []
    stack = list(reversed(children.get(None, ())))
    while stack:
        response_id = stack.pop()
        order.append(response_id)
        kids = children.get(response_id)
        if kids:
            stack.extend(reversed(kids))
    return order


Totals = tuple[int, int, float]
"""(responses, tokens, seconds of sampling) of a subtree."""


def subtree_totals(forest: Forest) -> dict[str, Totals]:
    """Totals of the subtree under every response, in one post-order pass.

    A subtree holds the response and everything below it: its response count, the sum of
    `token_count` and the sum of `total_time`. Children come after their parent in
    `preorder`, so walking it backwards sees every child before its parent: O(n) for the
    whole forest, without recursion.
    """
    responses = forest.responses
    children = forest.children
    totals: dict[str, Totals] = {}
    for response_id in reversed(preorder(forest)):
        node = responses[response_id]
        count, tokens, seconds = 1, node.token_count, node.total_time
        for kid in children.get(response_id, ()):
            kid_count, kid_tokens, kid_seconds = totals[kid]
            count += kid_count
            tokens += kid_tokens
            seconds += kid_seconds
        totals[response_id] = (count, tokens, seconds)
    return totals


def path_run_starts(forest: Forest, path_ids: Iterable[str]) -> list[str]:
    """First ids of the runs a root-to-leaf path passes through, outermost first.

    A path enters every run at its first response, so the runs on a path are exactly the
    path's responses that are roots or children of a branch point. Stops at an id the
    forest does not know (a path computed before a removal).
    """
    starts: list[str] = []
    responses = forest.responses
    children = forest.children
    for response_id in path_ids:
        node = responses.get(response_id)
        if node is None:
            break
        parent = node.parent_id
        if parent is None or len(children.get(parent, ())) != 1:
            starts.append(response_id)
    return starts
