"""Run nodes of the forest pane: building, caching and reconciling them with a forest.

The part of `ForestTree` that turns a `Forest` into tree nodes, one per run (see
`client.forest.run_ids`): lazy population, the depth guard's flat listing, the caches of
runs and path starts per forest revision, and the minimal refresh that matches
materialised nodes to a changed forest. The tree class adds the screen's API, hoisting,
totals and labels on top.

Labels are lazy (`RunNode`): a node's label is built when it is read — when its line is
drawn, or when a caller asks for `node.label` — never when the node is added or marked
stale. Showing a 2,080-response forest or turning totals on builds the labels of the
visible lines only, not one per materialised run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from grove_explorer.app.widgets.forest_tree.items import ForestItem, same_run

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest

_NO_LABEL = Text()
"""What a run node is created with: its real label is built when read."""


class RunNode(TreeNode[ForestItem]):
    """A run's tree node whose label is built from the tree when it is read.

    `_label` is what Textual reads (and `label` returns): for a run it is the tree's
    `_label_for(data)`, built on first read and kept until the node is marked stale
    (`invalidate`), its data changes, or the tree marks every label stale at once
    (`_label_generation`). A node without data (the tree's root, the hoist header) keeps
    the label it was given, as any `TreeNode` does.
    """

    _given: Text
    _built: Text | None = None
    _built_for: ForestItem | None = None
    _built_generation = -1

    @property
    def _label(self) -> Text:
        item = self.data
        if item is None:
            return self._given
        tree = self._tree
        assert isinstance(tree, RunNodes)
        generation = tree._label_generation
        built = self._built
        if built is None or self._built_for is not item or self._built_generation != generation:
            built = self._built = tree._label_for(item)
            self._built_for = item
            self._built_generation = generation
        return built

    @_label.setter
    def _label(self, label: Text) -> None:
        self._given = label
        self._built = None

    def invalidate(self) -> None:
        """Marks the label stale and repaints the node's line (if it is on screen)."""
        self._built = None
        self._updates += 1
        tree = self._tree
        tree.call_later(tree._refresh_node, self)


class RunNodes(Tree[ForestItem]):
    """A `Tree` whose nodes are runs of a forest's responses (state set by the subclass)."""

    max_depth: int
    _forest: Forest | None
    # Materialised run nodes by their first response id (unique in a forest).
    _run_nodes: dict[str, TreeNode[ForestItem]]
    # Nodes whose children have been created (Tree node ids; reset by `clear`).
    _populated: set[int]
    _streaming_node: TreeNode[ForestItem] | None
    _label_styles: dict[str, Style] | None
    # What `_item` and `_starts_to` derived from the forest at `_cache_revision`: a run or
    # a path can be thousands of responses long, and a sibling switch asks for the same
    # ones again (it moves the leaf but changes no structure).
    _cache_revision: int | None
    _items: dict[tuple[str, int, int, int, bool], ForestItem]
    _starts: dict[tuple[str, int], list[str]]
    # Hoisting: a response id whose run is the only top-level node (None: the forest).
    _hoist_id: str | None
    # Bumped to mark every run label stale at once (`_relabel_all`).
    _label_generation: int = 0

    @property
    def hoisted_id(self) -> str | None:
        """The first response of the run the tree is hoisted at (None: not hoisted)."""
        forest = self._forest
        if forest is None or self._hoist_id is None or self._hoist_id not in forest.responses:
            return None
        from grove_explorer.client.forest import run_start

        return run_start(forest, self._hoist_id)

    def node_for(self, response_id: str) -> TreeNode[ForestItem] | None:
        """The materialised node whose run holds `response_id`, if there is one."""
        forest = self._forest
        if forest is None or response_id not in forest.responses:
            return None
        from grove_explorer.client.forest import run_start

        return self._run_nodes.get(run_start(forest, response_id))

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
        from grove_explorer.client.forest import run_ids

        item = ForestItem(
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
            from grove_explorer.client.forest import path_run_starts

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
        node = parent.add(_NO_LABEL, item, before=before, allow_expand=self._has_children(item))
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
        if previous is None or not same_run(previous, item):
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
        # Scrolled now when the pane has a size, so the frame that shows the new cursor
        # shows it scrolled into view (Tree scrolls only after the next refresh, one or
        # two frames later); again after the refresh, for a pane not laid out yet.
        if self.size.height:
            self._scroll_to_cursor(immediate=True)
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self, immediate: bool = False) -> None:
        node = self.cursor_node
        if node is None or node.line < 0:
            return
        region = self._get_label_region(node.line)
        if region is not None:
            self.scroll_to_region(
                region,
                animate=False,
                force=True,
                center=self.center_scroll,
                origin_visible=False,
                x_axis=False,
                immediate=immediate,
            )

    def _add_node(
        self,
        parent: TreeNode[ForestItem] | None,
        label: Text,
        data: ForestItem | None,
        expand: bool = False,
    ) -> TreeNode[ForestItem]:
        """Tree's node factory, making `RunNode`s (labels built when read)."""
        node = RunNode(self, parent, self._new_id(), label, data, expanded=expand)
        self._tree_nodes[node._id] = node
        self._updates += 1
        return node

    def process_label(self, label: str | Text) -> Text:
        """Labels are built as `Text` (never parsed as markup); the lazy one stays empty."""
        if label is _NO_LABEL:
            return label
        return super().process_label(label)

    def _relabel(self, node: TreeNode[ForestItem]) -> None:
        """Marks the node's label stale; it is rebuilt when drawn or read."""
        if node.data is not None and isinstance(node, RunNode):
            node.invalidate()

    def _relabel_every_run(self) -> None:
        """Marks every run label stale at once and repaints the visible lines."""
        self._label_generation += 1
        self._updates += 1  # part of Tree's line-cache key: no drawn line survives
        self.refresh()

    def _label_for(self, item: ForestItem) -> Text:
        """The run's label (the tree class draws it)."""
        raise NotImplementedError
