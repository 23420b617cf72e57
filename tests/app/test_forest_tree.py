"""ForestTree: runs, branching, lazy population, depth guard, messages, inert labels."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from rich.style import Style
from textual import on
from textual.app import App, ComposeResult
from textual.widgets.tree import TreeNode

from grove_explorer.app.widgets.forest_tree import (
    DEPTH_MARK,
    MANUAL_MARK,
    PARTIAL_MARK,
    QUERY_MARK,
    SHARED_MARK,
    ForestItem,
    ForestTree,
    path_run_starts,
    run_ids,
    run_start,
)
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode

CONVERSATION = ConversationSummary(conversation_id="c1", title="Test", starred=False)


def response(
    response_id: str,
    parent_id: str | None,
    *,
    human: bool = False,
    message: str | None = None,
    **flags: object,
) -> ResponseNode:
    return ResponseNode(
        response_id=response_id,
        parent_id=parent_id,
        sender="human" if human else "model",
        message=f"message {response_id}" if message is None else message,
        **flags,
    )


def chain(
    count: int, parent: str | None = None, prefix: str = "m", start_human: bool = True
) -> list[ResponseNode]:
    """A linear exchange alternating human and model."""
    nodes = []
    for index in range(count):
        rid = f"{prefix}{index}"
        nodes.append(response(rid, parent, human=(index % 2 == 0) == start_human))
        parent = rid
    return nodes


def drawn_line(tree: ForestTree, line: int) -> str:
    """What the pane shows on tree line `line` (scrolled into view first)."""
    return tree.render_line(line - int(tree.scroll_offset.y)).text


def build(nodes: list[ResponseNode], leaf: str | None) -> Forest:
    return Forest.build(CONVERSATION, nodes, leaf)


def all_branching(depth: int) -> list[ResponseNode]:
    """A `depth`-long path p0..p{depth-1} where every response has a sibling s_i."""
    nodes = []
    parent = None
    for index in range(depth):
        human = index % 2 == 0
        nodes.append(response(f"p{index}", parent, human=human))
        nodes.append(response(f"s{index}", parent, human=human))
        parent = f"p{index}"
    return nodes


def ternary(total: int = 10_000, run_length: int = 3) -> tuple[list[ResponseNode], str]:
    """Runs of `run_length` replies, each ending in three branches, breadth first."""
    nodes: list[ResponseNode] = []
    frontier: list[str | None] = [None]
    last = ""
    while frontier and len(nodes) < total:
        parent = frontier.pop(0)
        for _ in range(3 if parent is not None else 1):
            tip = parent
            for step in range(run_length):
                rid = f"r{len(nodes)}"
                nodes.append(response(rid, tip, human=step % 2 == 0))
                tip = rid
            last = tip or last
            frontier.append(tip)
    return nodes, last


def materialised(tree: ForestTree) -> Iterator[TreeNode[ForestItem]]:
    """Every created node below the hidden root (iterative: trees can be deep)."""
    stack = list(tree.root.children)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def node_depth(node: TreeNode[ForestItem]) -> int:
    depth = 0
    while node.parent is not None:
        depth += 1
        node = node.parent
    return depth


class TreeApp(App[None]):
    """Composes only a ForestTree and records what it posts."""

    def __init__(self, forest: Forest | None = None, **tree_options: int) -> None:
        super().__init__()
        self.forest = forest
        self.tree_options = tree_options
        self.chosen: list[str] = []
        self.highlighted: list[str] = []

    def compose(self) -> ComposeResult:
        yield ForestTree(**self.tree_options)

    def on_mount(self) -> None:
        if self.forest is not None:
            self.query_one(ForestTree).show_forest(self.forest)

    def on_forest_tree_response_chosen(self, message: ForestTree.ResponseChosen) -> None:
        self.chosen.append(message.response_id)

    @on(ForestTree.ResponseHighlighted)
    def _highlighted(self, message: ForestTree.ResponseHighlighted) -> None:
        self.highlighted.append(message.response_id)


# -- pure helpers ----------------------------------------------------------------------------


def test_run_helpers_follow_single_children() -> None:
    nodes = [*chain(3), response("x", "m1", human=True), response("y", "x")]
    forest = build(nodes, "m2")
    assert run_ids(forest, "m0") == ("m0", "m1")
    assert run_ids(forest, "x") == ("x", "y")
    assert run_start(forest, "y") == "x"
    assert run_start(forest, "m1") == "m0"
    assert run_start(forest, "m2") == "m2"


# -- structure -------------------------------------------------------------------------------


async def test_linear_chain_is_one_run() -> None:
    app = TreeApp(build(chain(100), "m99"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        nodes = list(materialised(tree))
        assert len(nodes) == 1
        (node,) = nodes
        assert node.data is not None
        assert node.data.first_id == "m0"
        assert node.data.last_id == "m99"
        assert len(node.data.response_ids) == 100
        assert node.data.first.response_id == "m0"
        assert not node.allow_expand
        plain = node.label.plain
        assert plain.startswith("● message m0")
        assert "+99" in plain
        assert "/" not in plain  # no siblings, no "k/n"
        assert tree.cursor_node is node


async def test_resamples_make_sibling_runs() -> None:
    nodes = [
        response("h0", None, human=True, message="Tell me a joke"),
        response("a1", "h0"),
        response("a2", "h0"),
        response("h3", "a2", human=True),
        response("a4", "h3"),
        response("a5", "h0"),
    ]
    app = TreeApp(build(nodes, "a4"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        (top,) = tree.root.children
        assert top.data is not None and top.data.response_ids == ("h0",)
        assert top.label.plain == "● Tell me a joke"
        assert top.is_expanded
        labels = [child.label.plain for child in top.children]
        assert labels == [
            "◆ 1/3 message a1",
            "◆ 2/3 message a2 +2",
            "◆ 3/3 message a5",
        ]
        middle = top.children[1]
        assert middle.data is not None
        assert middle.data.response_ids == ("a2", "h3", "a4")
        assert (middle.data.sibling_index, middle.data.sibling_count) == (2, 3)
        assert tree.cursor_node is middle


async def test_human_and_model_glyphs_are_styled_differently() -> None:
    nodes = [response("h0", None, human=True), response("a1", "h0"), response("a2", "h0")]
    app = TreeApp(build(nodes, "a1"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        (top,) = tree.root.children
        human_glyph = top.label.get_style_at_offset(app.console, 0)
        model_glyph = top.children[0].label.get_style_at_offset(app.console, 0)
        assert top.label.plain[0] == "●"
        assert top.children[0].label.plain[0] == "◆"
        assert human_glyph.color != model_glyph.color


async def test_markers_for_flags() -> None:
    nodes = [
        response("h0", None, human=True, manual=True),
        response("a1", "h0", partial=True, shared=True),
        response("h2", "a1", human=True, query="weather", query_type="search"),
    ]
    app = TreeApp(build(nodes, "h2"))
    async with app.run_test() as pilot:
        await pilot.pause()
        (node,) = app.query_one(ForestTree).root.children
        plain = node.label.plain
        assert f" {PARTIAL_MARK}{MANUAL_MARK}{SHARED_MARK}{QUERY_MARK}" in plain
        assert "+2" in plain


def test_run_markers_are_the_runs_own_once_read() -> None:
    """A run's markers, read once per item (labels are built at every paint), stay
    those of its own responses: an item built from the changed responses shows the change,
    and the cache takes no part in equality."""
    from grove_explorer.app.annotation_marks import BOOKMARK_MARK
    from grove_explorer.client.research import Annotation

    nodes = chain(50)
    item = ForestItem(responses=tuple(nodes))
    assert (item.marks, item.annotation_marks) == ("", "")
    assert (item.marks, item.annotation_marks) == ("", "")  # the cached answer
    changed = list(nodes)
    changed[25] = nodes[25].model_copy(
        update={"partial": True, "annotation": Annotation(bookmarked=True)}
    )
    again = ForestItem(responses=tuple(changed))
    assert (again.marks, again.annotation_marks) == (PARTIAL_MARK, BOOKMARK_MARK)
    assert (item.marks, item.annotation_marks) == ("", "")
    assert ForestItem(responses=tuple(nodes)) == item


# -- laziness and scale ----------------------------------------------------------------------


async def test_collapsed_nodes_are_populated_only_when_expanded() -> None:
    # h0 branches into a1 (on the path) and a2, which branches again under h3.
    nodes = [
        response("h0", None, human=True),
        response("a1", "h0"),
        response("a2", "h0"),
        response("h3", "a2", human=True),
        response("a4", "h3"),
        response("a5", "h3"),
    ]
    app = TreeApp(build(nodes, "a1"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        (top,) = tree.root.children
        off_path = top.children[1]
        assert off_path.data is not None and off_path.data.response_ids == ("a2", "h3")
        assert off_path.allow_expand
        assert not off_path.is_expanded
        assert len(off_path.children) == 0
        assert tree.node_for("a4") is None
        off_path.expand()
        await pilot.pause()
        assert [child.label.plain for child in off_path.children] == [
            "◆ 1/2 message a4",
            "◆ 2/2 message a5",
        ]
        node = tree.node_for("a5")
        assert node is not None and node.data is not None and node.data.last_id == "a5"


async def test_ten_thousand_responses_build_lazily() -> None:
    nodes, leaf = ternary()
    assert len(nodes) >= 10_000
    app = TreeApp(build(nodes, leaf))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        created = list(materialised(tree))
        # Only the path's runs and their siblings exist: a few per level, not thousands.
        assert 0 < len(created) < 100
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert cursor.data.last_id == leaf
        forest = build(nodes, leaf)
        starts = set(path_run_starts(forest, [node.response_id for node in forest.current_path]))
        assert len(starts) == 9  # the root's run, then a run at each of 8 levels of branching
        path_runs = [node for node in created if node.data and node.data.first_id in starts]
        assert len(path_runs) == len(starts)
        assert all(node.is_expanded for node in path_runs if node.allow_expand)


async def test_deep_all_branching_path_hits_depth_guard_without_recursion() -> None:
    depth = 2_000
    forest = build(all_branching(depth), f"p{depth - 1}")
    app = TreeApp(forest)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        nodes = list(materialised(tree))
        deepest = max(node_depth(node) for node in nodes)
        assert deepest <= ForestTree.MAX_DEPTH + 2
        assert deepest < sys.getrecursionlimit() // 2
        seen = {rid for node in nodes if node.data for rid in node.data.response_ids}
        assert seen == set(forest.responses)
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert cursor.data.last_id == f"p{depth - 1}"
        assert cursor.label.plain.startswith(f"{DEPTH_MARK}{depth - 1} ")
        flat = [node for node in nodes if node.data and node.data.flattened]
        assert len(flat) == 2 * (depth - ForestTree.MAX_DEPTH - 1)
        assert all(node.label.plain.startswith(DEPTH_MARK) for node in flat)
        # Indentation is capped: the leaf's label is drawn inside the pane, no sideways scroll.
        assert tree.scroll_x == 0
        assert f"{DEPTH_MARK}{depth - 1} " in drawn_line(tree, tree.cursor_line)
        # Painting and moving through the deepest lines must not overflow the stack.
        await pilot.press("home", "end", "up")
        await pilot.pause()


async def test_deep_forest_every_response_reachable_by_expanding() -> None:
    depth = 2_000
    forest = build(all_branching(depth), "s0")  # start shallow: nothing deep is open
    app = TreeApp(forest)
    async with app.run_test(size=(40, 6)) as pilot:  # few lines to paint per round
        await pilot.pause()
        tree = app.query_one(ForestTree)
        assert len(list(materialised(tree))) == 2
        rounds = 0
        frontier = list(tree.root.children)
        while True:
            closed = [node for node in frontier if node.allow_expand and not node.is_expanded]
            if not closed:
                break
            for node in closed:
                node.expand()  # the user's action: children appear on Tree.NodeExpanded
            await pilot.pause(0)  # let the NodeExpanded messages be handled
            frontier = [child for node in closed for child in node.children]
            rounds += 1
        assert rounds == ForestTree.MAX_DEPTH + 1
        seen = {rid for node in materialised(tree) if node.data for rid in node.data.response_ids}
        assert seen == set(forest.responses)


async def test_five_thousand_deep_path_loads() -> None:
    depth = 5_000
    forest = build(all_branching(depth), f"p{depth - 1}")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert cursor.data.last_id == f"p{depth - 1}"


async def test_show_forest_replaces_and_clear_forgets() -> None:
    app = TreeApp(build(chain(3), "m2"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        other = Forest.build(
            ConversationSummary(conversation_id="c2", title="Other", starred=True),
            [response("x0", None, human=True), response("x1", "x0"), response("x2", "x0")],
            "x2",
        )
        tree.refresh_forest(other)  # another conversation: rebuilt from scratch
        assert [n.label.plain for n in tree.root.children] == ["● message x0"]
        assert tree.node_for("m0") is None
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None and cursor.data.last_id == "x2"
        tree.clear()
        assert tree.forest is None and not tree.root.children
        tree.set_current_path(["x0"])  # harmless without a forest
        tree.set_streaming("pending:1", 5)


# -- messages --------------------------------------------------------------------------------


async def test_enter_posts_response_chosen_with_runs_last_id() -> None:
    nodes = [
        *chain(3, prefix="h"),
        response("b0", "h2", human=True),
        response("b1", "b0"),
        response("c0", "h2", human=True),
        response("c1", "c0"),
    ]
    app = TreeApp(build(nodes, "c1"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        tree.focus()
        branch = tree.node_for("b0")
        assert branch is not None
        tree.move_cursor(branch)
        await pilot.pause()
        assert app.highlighted[-1] == "b1"
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == ["b1"]
        await pilot.press("up", "enter")
        await pilot.pause()
        assert app.chosen == ["b1", "h2"]  # the run h0..h2 ends at the branch point
        assert tree.root.children[0].is_expanded  # Enter chooses; it does not toggle


async def test_click_posts_response_chosen() -> None:
    nodes = [response("h0", None, human=True), response("a1", "h0"), response("a2", "h0")]
    app = TreeApp(build(nodes, "a2"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        first_child = tree.root.children[0].children[0]
        await pilot.click(ForestTree, offset=(8, first_child.line))
        await pilot.pause()
        assert app.chosen == ["a1"]


# -- updates ---------------------------------------------------------------------------------


async def test_streaming_label_updates_only_that_node() -> None:
    nodes = [
        response("h0", None, human=True, message="Hi"),
        response("a1", "h0"),
        response("pending:1", "h0", message="", streaming=True),
    ]
    app = TreeApp(build(nodes, "pending:1"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        top = tree.root.children[0]
        sibling, live = top.children
        before = (top.label, sibling.label)
        assert live.label.plain == "◆ 2/2 sampling…"
        now = [100.0]
        tree.clock = lambda: now[0]
        tree.set_streaming("pending:1", 42)
        assert live.label.plain == "◆ 2/2 sampling… 42 tok"
        now[0] += ForestTree.MARKER_INTERVAL_S
        tree.set_streaming("pending:1", 57)
        assert live.label.plain == "◆ 2/2 sampling… 57 tok"
        assert (top.label, sibling.label) == before
        tree.set_streaming(None)
        assert live.label.plain == "◆ 2/2 sampling…"


async def test_streaming_count_is_drawn_a_few_times_a_second_and_its_last_value_shown() -> None:
    """Batches closer than MARKER_INTERVAL_S do not redraw the label; the last count is
    drawn when the interval is over (a timer), and the marker clears when streaming ends."""
    nodes = [
        response("h0", None, human=True, message="Hi"),
        response("pending:1", "h0", message="", streaming=True),
    ]
    app = TreeApp(build(nodes, "pending:1"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        live = tree.root.children[0]
        now = [100.0]
        tree.clock = lambda: now[0]
        tree.set_streaming("pending:1", 1)
        assert live.label.plain.endswith("sampling… 1 tok")
        for count in range(2, 30):
            tree.set_streaming("pending:1", count)
        assert live.label.plain.endswith("sampling… 1 tok")  # not redrawn yet
        assert tree._marker_timer is not None
        now[0] += ForestTree.MARKER_INTERVAL_S
        tree._draw_marker()  # what the timer does when the interval is over
        assert live.label.plain.endswith("sampling… 29 tok")
        assert tree._marker_timer is None
        tree.set_streaming("pending:1", 30)  # a batch right after a drawing waits again
        assert tree._marker_timer is not None
        tree.set_streaming(None)
        assert tree._marker_timer is None
        assert live.label.plain.endswith("sampling…")
        assert "tok" not in live.label.plain


async def test_streaming_reply_appended_to_a_run() -> None:
    nodes = [
        *chain(2),
        response("h2", "m1", human=True, message="More"),
        response("pending:9", "h2", message="", streaming=True),
    ]
    forest = build(nodes, "pending:9")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        (run,) = tree.root.children
        tree.set_streaming("pending:9", 3)
        assert run.label.plain == "● message m0 +3 ◆ sampling… 3 tok"
        tree.set_streaming(None)
        forest.replace_placeholder("pending:9", response("a3", "h2", message="Done"))
        tree.refresh_forest(forest)
        (same,) = tree.root.children
        assert same is run
        assert same.label.plain == "● message m0 +3"
        assert same.data is not None and same.data.last_id == "a3"


async def test_refresh_reuses_runs_until_the_forest_changes() -> None:
    """A sibling switch changes no structure: runs are not rebuilt; changes still show."""
    nodes = [
        *chain(300),
        response("alt", "m149", human=False, message="alternative"),
        *chain(3, parent="alt", prefix="x", start_human=True),
        response("pending:1", "m299", message="", streaming=True),
    ]
    forest = build(nodes, "pending:1")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        items = {id(node): node.data for node in materialised(tree)}
        forest.switch_sibling("alt", -1)
        tree.refresh_forest(forest)
        forest.switch_sibling("m150", +1)
        tree.refresh_forest(forest)
        for node in materialised(tree):
            if id(node) in items:
                assert node.data is items[id(node)]
        # The service replaces a streaming placeholder in place: its run shows the new node.
        forest.select("pending:1")
        forest.responses["pending:1"] = response("pending:1", "m299", message="x", streaming=True)
        tree.refresh_forest(forest)
        main_run = tree.node_for("pending:1")
        assert main_run is not None and main_run.data is not None
        assert main_run.data.last is forest.responses["pending:1"]
        # A structural change (a new sibling) splits the run as before.
        forest.add(response("m200b", "m199", message="new branch"))
        tree.refresh_forest(forest)
        split = tree.node_for("m200b")
        assert split is not None and split.data is not None and split.data.first_id == "m200b"
        assert tree.node_for("pending:1") is not main_run
        assert path_run_starts(forest, [n.response_id for n in forest.current_path]) == [
            "m0",
            "m150",
            "m200",
        ]


async def test_refresh_keeps_nodes_expansion_and_cursor() -> None:
    nodes = [
        response("h0", None, human=True),
        response("a1", "h0"),
        response("a2", "h0"),
        response("h3", "a2", human=True),
        response("a4", "h3"),
        response("a5", "h3"),
    ]
    forest = build(nodes, "a1")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        top = tree.root.children[0]
        first, second = top.children
        second.expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(second.children[1])  # on a5
        await pilot.pause()

        # A resample of a1 arrives as a placeholder, then completes.
        forest.add(response("pending:1", "h0", message="", streaming=True))
        forest.select("pending:1")
        tree.refresh_forest(forest)
        assert top.children[0] is first and top.children[1] is second
        assert [c.label.plain for c in top.children][2] == "◆ 3/3 sampling…"
        assert second.is_expanded and len(second.children) == 2
        assert tree.cursor_node is second.children[1]  # the focused user's cursor stays
        assert first.label.plain.startswith("◆ 1/3 ")

        forest.replace_placeholder("pending:1", response("a6", "h0", message="Fresh"))
        tree.refresh_forest(forest)
        await pilot.pause()
        assert [c.label.plain for c in top.children] == [
            "◆ 1/3 message a1",
            "◆ 2/3 message a2 +1",
            "◆ 3/3 Fresh",
        ]
        assert top.children[0] is first and top.children[1] is second
        assert second.is_expanded
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None and cursor.data.last_id == "a5"


async def test_refresh_splits_a_run_and_keeps_it_open() -> None:
    # h0 → a1 → h2 with branches a3/a4 under h2; then a1 is resampled, splitting the run.
    nodes = [
        response("h0", None, human=True),
        response("a1", "h0"),
        response("h2", "a1", human=True),
        response("a3", "h2"),
        response("a4", "h2"),
    ]
    forest = build(nodes, "a3")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        (run,) = tree.root.children
        assert run.data is not None and run.data.response_ids == ("h0", "a1", "h2")
        forest.add(response("a5", "h0"))
        tree.refresh_forest(forest)
        (top,) = tree.root.children
        assert top is run and top.data is not None and top.data.response_ids == ("h0",)
        old_branch, new_branch = top.children
        assert old_branch.data is not None and old_branch.data.response_ids == ("a1", "h2")
        assert old_branch.is_expanded  # it holds the old expanded run's end, h2
        assert [c.label.plain for c in old_branch.children] == [
            "◆ 1/2 message a3",
            "◆ 2/2 message a4",
        ]
        assert new_branch.label.plain == "◆ 2/2 message a5"
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None and cursor.data.last_id == "a3"


async def test_set_current_path_highlights_and_expands() -> None:
    nodes = [
        response("h0", None, human=True),
        response("a1", "h0"),
        response("a2", "h0"),
        response("h3", "a2", human=True),
        response("a4", "h3"),
        response("a5", "h3"),
    ]
    forest = build(nodes, "a1")
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        top = tree.root.children[0]
        first, second = top.children

        def bold(node: TreeNode[ForestItem]) -> bool:
            return any(isinstance(s.style, Style) and s.style.bold for s in node.label.spans)

        assert bold(top) and bold(first) and not bold(second)
        forest.select("a5")
        tree.set_current_path([n.response_id for n in forest.current_path])
        assert bold(top) and bold(second) and not bold(first)
        assert second.is_expanded
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None and cursor.data.last_id == "a5"
        assert bold(cursor)

        # A run the user collapses stays collapsed on the next refresh of the same path.
        second.collapse()
        await pilot.pause()
        tree.refresh_forest(forest)
        tree.set_current_path([n.response_id for n in forest.current_path])
        assert not second.is_expanded


# -- inert text ------------------------------------------------------------------------------


async def test_markup_and_escapes_in_messages_are_inert() -> None:
    hostile = "[@click=app.quit]x[/b] \x1b]0;pwn\x07"
    nodes = [response("h0", None, human=True, message=hostile), response("a1", "h0")]
    nodes.append(response("a2", "h0", message="[/]\x1b[2J\x9b31m [bold red]loud[/] \u202eevil"))
    app = TreeApp(build(nodes, "a2"))
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        top = tree.root.children[0]
        plain = top.label.plain
        assert plain == "● [@click=app.quit]x[/b]", "the OSC title sequence goes whole"
        assert all(not isinstance(span.style, str) for span in top.label.spans)
        other = top.children[1].label.plain
        assert other == "◆ 2/2 [/] [bold red]loud[/] evil"
        assert not any(ch in plain + other for ch in "\x1b\x07\x9b\u202e")
        tree.focus()
        tree.move_cursor(top)
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running
        assert app.chosen == ["h0"]


class NarrowTreeApp(TreeApp):
    """The tree in a pane as wide as the explorer's default forest pane."""

    CSS = "ForestTree { width: 37; }"


def branching_runs(depth: int) -> list[ResponseNode]:
    """A path of `depth` branch points, each a run of three replies with a one-reply sibling."""
    nodes: list[ResponseNode] = []
    parent: str | None = None
    for level in range(depth):
        long = f"a long question asked at depth {level} " * 3
        nodes.append(response(f"x{level}", parent, human=level % 2 == 0, message=long))
        nodes.append(response(f"z{level}", parent, human=level % 2 == 0))
        nodes.append(response(f"y{level}a", f"x{level}", message=f"deep reply {level}"))
        nodes.append(response(f"y{level}b", f"y{level}a"))
        nodes.append(response(f"y{level}c", f"y{level}b"))
        parent = f"y{level}c"
    return nodes


async def test_depth_forty_path_shows_labels_and_hidden_counts_in_a_narrow_pane() -> None:
    depth = 40
    nodes = branching_runs(depth)
    leaf = nodes[-1].response_id
    app = NarrowTreeApp(build(nodes, leaf))
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        levels = tree.indent_levels
        assert 1 <= levels < 10
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert cursor.data.last_id == leaf
        # Every drawn line of the open path carries its text and its "+N"; deep ones
        # their depth instead of more guides.
        drawn = [drawn_line(tree, line) for line in range(tree.last_line + 1)]
        deep = [line for line in drawn if f"{DEPTH_MARK}" in line]
        assert len(deep) > depth - levels - 2
        assert all(len(line.rstrip()) <= 37 for line in drawn)
        cursor_text = drawn_line(tree, tree.cursor_line)
        assert f"{DEPTH_MARK}{cursor.data.depth} " in cursor_text
        # The long text is shortened so "+3" (the run's hidden replies) still shows.
        assert "a long" in cursor_text and "…" in cursor_text
        assert cursor_text.rstrip().endswith("+3")
        assert tree.scroll_x == 0
        # Guides stop at the cap: deep lines start at the same column.
        starts = {
            line.index(DEPTH_MARK) - (2 if ("▼" in line or "▶" in line) else 0) for line in deep
        }
        assert len(starts) == 1
        assert starts.pop() <= levels * tree.guide_depth + 2
