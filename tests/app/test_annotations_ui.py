"""Annotations in the explorer: keys, markers, bookmark jumps, hoisting and subtree totals.

Driven through Textual's pilot against a real server; what the keys stored is read back
through a fresh SDK client, so the round trip is the server's, not the app's cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.widgets import Input, TextArea

from grove_explorer.app.annotation_marks import (
    BOOKMARK_MARK,
    NOTE_MARK,
    RATED_DOWN_MARK,
    RATED_UP_MARK,
    parse_tags,
    run_marks,
)
from grove_explorer.app.screens.dialogs import NoteScreen, PromptScreen
from grove_explorer.app.screens.help import HelpScreen
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.annotated_message import AnnotatedMessageView
from grove_explorer.app.widgets.forest_tree import (
    HOIST_MARK,
    ForestTree,
    format_totals,
    preorder,
    subtree_totals,
)
from grove_explorer.client import Client
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import ConversationSummary, ResponseNode
from grove_explorer.client.research import Annotation
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, send, settle

SIZE = (140, 40)


async def stored_annotation(server: GroveServer, cid: str, rid: str) -> Annotation:
    """The annotation as the server has it, read through a fresh client."""
    async with Client(api_host=server.address) as sdk:
        conversation = await sdk.grok.get_conversation(cid)
        return conversation.get_response(rid).annotation


def view_of(screen: MainScreen, rid: str) -> AnnotatedMessageView:
    views = [v for v in screen.query(AnnotatedMessageView) if v.response_id == rid]
    assert len(views) == 1, f"one view of {rid}"
    return views[0]


def tree_label(screen: MainScreen, rid: str) -> str:
    node = screen.forest_pane.node_for(rid)
    assert node is not None, f"{rid} is materialised in the tree"
    return node.label.plain


@dataclass
class Branches:
    """h1 → m1, m2 (→ h2 → m4), m3: a branched conversation (leaf m3, the newest)."""

    cid: str
    h1: str
    m1: str
    m2: str
    h2: str
    m4: str
    m3: str


async def branched(screen: MainScreen, pilot) -> Branches:
    """Builds the branched conversation through the service the app uses."""
    service = screen.service
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    m1 = await service.send(cid, "How do apple trees branch?", None)
    assert m1 is not None and m1.parent_id is not None
    m2 = await service.resample(cid, m1.response_id)
    assert m2 is not None
    m4 = await service.send(cid, "And after pruning?", m2.response_id)
    assert m4 is not None and m4.parent_id is not None
    m3 = await service.resample(cid, m1.response_id)
    assert m3 is not None
    await settle(pilot)
    return Branches(
        cid, m1.parent_id, m1.response_id, m2.response_id, m4.parent_id, m4.response_id,
        m3.response_id,
    )  # fmt: skip


# -- keys round trip -------------------------------------------------------------------------


async def test_keys_annotate_on_the_server_and_show_markers(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Tell me about apple trees")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None
        cid = forest.conversation.conversation_id
        human, reply = (node.response_id for node in forest.current_path)
        screen.thread.focus()
        screen.thread.focus_message(reply)

        await pilot.press("b")
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).bookmarked
        await pilot.press("plus")
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).rating == 1
        await pilot.press("plus")  # again: cleared
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).rating == 0
        await pilot.press("equals_sign")  # `=` is `+` without shift
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).rating == 1
        await pilot.press("minus")
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).rating == -1

        await pilot.press("N")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        app.screen.query_one(TextArea).text = "Check the grafting claim\nsecond line\n"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).note == (
            "Check the grafting claim\nsecond line"
        )

        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "idea, later #todo idea"
        await pilot.press("enter")
        await settle(pilot)
        stored = await stored_annotation(server, cid, reply)
        assert stored == Annotation(
            bookmarked=True,
            tags=("idea", "later", "todo"),
            rating=-1,
            note="Check the grafting claim\nsecond line",
        )
        assert screen.forest.responses[reply].annotation == stored, "the app shows the stored one"

        # Markers: the tree node (human + reply are one run) and the thread header.
        label = tree_label(screen, reply)
        assert f"{BOOKMARK_MARK}{RATED_DOWN_MARK}#3{NOTE_MARK}" in label, label
        view = view_of(screen, reply)
        assert view.has_class("-annotated")
        header = view.header.plain
        assert f"{BOOKMARK_MARK} bookmarked" in header
        assert f"{RATED_DOWN_MARK} -1" in header
        assert "#idea #later #todo" in header
        svg = app.export_screenshot()
        assert f"{NOTE_MARK}&#160;Check&#160;the&#160;grafting&#160;claim" in svg
        assert not view_of(screen, human).has_class("-annotated")

        # Clearing: an empty note and empty tags remove them; b again unbookmarks.
        await pilot.press("N")
        await settle(pilot)
        app.screen.query_one(TextArea).text = "  \n"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("b", "minus")
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).empty
        assert BOOKMARK_MARK not in tree_label(screen, reply)
        assert not view_of(screen, reply).has_class("-annotated")


async def test_quick_presses_toggle_in_order(server: GroveServer) -> None:
    """Each change reads the annotation the previous one stored: b b b is bookmarked."""
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        await send(pilot, "Three quick bookmarks")
        await settle(pilot)
        reply = screen.forest.leaf_id
        screen.thread.focus()
        await pilot.press("b", "b", "b")
        await settle(pilot)
        cid = screen.conversation_id
        assert (await stored_annotation(server, cid, reply)).bookmarked


async def test_forest_keys_act_on_the_node(server: GroveServer) -> None:
    """With the forest focused, `b` marks the last response of the node under the cursor."""
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        b = await branched(screen, pilot)
        screen.action_open_conversation(b.cid)
        await settle(pilot)
        tree = screen.forest_pane
        tree.focus()
        node = tree.node_for(b.m2)
        assert node is not None
        tree.move_cursor(node, animate=False)
        await pilot.press("b", "plus")
        await settle(pilot)
        annotation = await stored_annotation(server, b.cid, b.m4)  # the run m2 → h2 → m4
        assert annotation.bookmarked and annotation.rating == 1
        assert not screen.forest.responses[b.m2].bookmarked
        assert f"{BOOKMARK_MARK}{RATED_UP_MARK}" in tree_label(screen, b.m2)


async def test_bad_tags_are_notified_and_nothing_changes(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Tag me badly")
        await settle(pilot)
        reply = screen.forest.leaf_id
        screen.thread.focus()
        await pilot.press("T")
        await settle(pilot)
        app.screen.query_one(Input).value = "fine " + "x" * 80
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        messages = [str(n.message) for n in app._notifications]
        assert any("not usable" in m for m in messages), messages
        assert (await stored_annotation(server, screen.conversation_id, reply)).tags == ()


async def test_annotation_text_is_inert(server: GroveServer) -> None:
    note = "[/b] [@click=app.quit]x[/] \x1b[2J\x1b]0;pwned\x07 end\n[bold]second[/bold]"
    tag = "[@click=app.quit]q"
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Inert notes please")
        await settle(pilot)
        cid = screen.conversation_id
        reply = screen.forest.leaf_id
        await screen.service.annotate(cid, reply, tags=[tag, "[b]"], note=note)
        await settle(pilot)
        assert (await stored_annotation(server, cid, reply)).note == note, "stored as sent"
        header = view_of(screen, reply).header.plain
        assert f"#{tag} #[b]" in header
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        assert "[/b]&#160;[@click=app.quit]x[/]" in svg
        assert "[bold]second[/bold]" in svg
        assert app.is_running


# -- bookmark jumps ------------------------------------------------------------------------


async def test_bookmark_jumps_in_tree_order(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        b = await branched(screen, pilot)
        forest = screen.service.forest(b.cid)
        assert preorder(forest) == [b.h1, b.m1, b.m2, b.h2, b.m4, b.m3]
        for rid in (b.m1, b.m4, b.m3):
            await screen.service.annotate(b.cid, rid, bookmarked=True)
        screen.action_open_conversation(b.cid)
        await settle(pilot)
        screen.thread.focus()
        screen.thread.focus_message(b.h1)

        async def jump(key: str, expected: str, leaf: str) -> None:
            await pilot.press(key)
            await settle(pilot)
            assert screen.thread.focused_response_id == expected
            assert screen.forest.leaf_id == leaf
            item = screen.forest_pane.cursor_item
            assert item is not None and expected in item.response_ids

        await jump("right_square_bracket", b.m1, b.m1)  # off the path: selected as leaf
        await jump("right_square_bracket", b.m4, b.m4)
        await jump("right_square_bracket", b.m3, b.m3)
        await jump("right_square_bracket", b.m1, b.m1)  # wraps around
        await jump("left_square_bracket", b.m3, b.m3)  # and back
        await jump("left_square_bracket", b.m4, b.m4)
        # A bookmark on the current path gets the cursor; the leaf (and the rest of the
        # path) stays.
        await screen.service.annotate(b.cid, b.m2, bookmarked=True)
        await settle(pilot)
        assert screen.forest.leaf_id == b.m4
        screen.thread.focus_message(b.h2)
        await jump("left_square_bracket", b.m2, b.m4)
        await jump("left_square_bracket", b.m1, b.m1)


async def test_bookmark_jump_without_bookmarks_says_so(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        await send(pilot, "Nothing marked here")
        await settle(pilot)
        screen.thread.focus()
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert any("No bookmarks" in str(n.message) for n in app._notifications)


# -- hoisting ------------------------------------------------------------------------------


async def test_hoist_and_unhoist(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        b = await branched(screen, pilot)
        screen.action_open_conversation(b.cid)
        await settle(pilot)
        tree = screen.forest_pane
        tree.focus()
        node = tree.node_for(b.m2)
        assert node is not None
        tree.move_cursor(node, animate=False)
        await pilot.press("H")
        await settle(pilot)
        assert tree.hoisted_id == b.m2
        assert tree.show_root
        assert tree.root.label.plain.startswith(f"{HOIST_MARK} hoisted at ◆")
        assert "U to unhoist" in tree.root.label.plain
        assert [n.data.first_id for n in tree.root.children if n.data] == [b.m2]
        assert tree.node_for(b.m1) is None and tree.node_for(b.m3) is None
        assert tree.cursor_item is not None and tree.cursor_item.first_id == b.m2
        # The thread still shows the whole path (leaf m3, outside the hoisted subtree).
        assert [n.response_id for n in screen.thread.path] == [b.h1, b.m3]
        # Choosing the hoisted node makes its run the path; the thread shows it from h1.
        await pilot.press("enter")
        await settle(pilot)
        assert screen.forest.leaf_id == b.m4
        assert [n.response_id for n in screen.thread.path] == [b.h1, b.m2, b.h2, b.m4]
        # New replies under the hoisted run appear; others do not.
        await screen.service.resample(b.cid, b.m1, select=False)
        await settle(pilot)
        assert [n.data.first_id for n in tree.root.children if n.data] == [b.m2]

        await pilot.press("U")
        await settle(pilot)
        assert tree.hoisted_id is None and not tree.show_root
        assert [n.data.first_id for n in tree.root.children if n.data] == [b.h1]
        assert tree.cursor_item is not None and tree.cursor_item.first_id == b.m2
        await pilot.press("U")
        await settle(pilot)
        assert any("not hoisted" in str(n.message) for n in app._notifications)

        # From the thread: hoists at the run holding the focused message.
        screen.thread.focus()
        screen.thread.focus_message(b.h2)
        await pilot.press("H")
        await settle(pilot)
        assert tree.hoisted_id == b.m2
        # Another conversation shows whole.
        screen.action_new_conversation()
        await settle(pilot)
        assert tree.hoisted_id is None and not tree.show_root


# -- subtree totals ------------------------------------------------------------------------

CONVERSATION = ConversationSummary(conversation_id="c1", title="Totals", starred=False)


def node(rid: str, parent: str | None, tokens: int = 0, seconds: float = 0.0) -> ResponseNode:
    return ResponseNode(
        response_id=rid,
        parent_id=parent,
        sender="human" if tokens == 0 else "model",
        message=f"message {rid}",
        token_count=tokens,
        total_time=seconds,
    )


def known_forest() -> Forest:
    """h → a (10 tok, 1 s) → h2 → c (1,500 tok, 12.5 s); h → b (20 tok, 2 s)."""
    nodes = [
        node("h", None),
        node("a", "h", 10, 1.0),
        node("h2", "a"),
        node("c", "h2", 1500, 12.5),
        node("b", "h", 20, 2.0),
    ]
    return Forest.build(CONVERSATION, nodes, "c")


def test_subtree_totals_in_one_pass() -> None:
    totals = subtree_totals(known_forest())
    assert totals["h"] == (5, 1530, 15.5)
    assert totals["a"] == (3, 1510, 13.5)
    assert totals["h2"] == (2, 1500, 12.5)
    assert totals["b"] == (1, 20, 2.0)
    assert format_totals(totals["h"]) == "Σ5 1.5kt 16s"
    assert format_totals(totals["b"]) == "Σ1 20t 2.0s"
    assert format_totals((3, 56_789, 600.0)) == "Σ3 57kt 10m"
    assert format_totals((3, 2_400_000, 9000.0)) == "Σ3 2.4Mt 2.5h"


class TreeApp(App[None]):
    def __init__(self, forest: Forest) -> None:
        super().__init__()
        self.forest = forest

    def compose(self) -> ComposeResult:
        yield ForestTree()

    def on_mount(self) -> None:
        self.query_one(ForestTree).show_forest(self.forest)


async def test_totals_toggle_on_tree_labels() -> None:
    forest = known_forest()
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        labels = lambda: [n.label.plain for n in tree.root.children[0].children]  # noqa: E731
        assert tree.root.children[0].label.plain == "● message h"
        tree.show_totals = True
        assert tree.root.children[0].label.plain == "● Σ5 1.5kt 16s message h"
        assert labels() == ["◆ Σ3 1.5kt 14s 1/2 message a +2", "◆ Σ1 20t 2.0s 2/2 message b"]
        # A new reply under b updates every total above it, not only its own node's.
        forest.add(node("d", "b", 5, 0.5))
        tree.refresh_forest(forest)
        assert tree.root.children[0].label.plain == "● Σ6 1.5kt 16s message h"
        assert labels()[1] == "◆ Σ2 25t 2.5s 2/2 message b +1"
        assert tree.totals_for("b") == (2, 25, 2.5)
        tree.show_totals = False
        assert tree.root.children[0].label.plain == "● message h"


async def test_totals_on_ten_thousand_responses_stay_fast() -> None:
    nodes: list[ResponseNode] = []
    frontier: list[str | None] = [None]
    while frontier and len(nodes) < 10_000:
        parent = frontier.pop(0)
        for _ in range(3 if parent is not None else 1):
            tip = parent
            for step in range(3):
                rid = f"r{len(nodes)}"
                nodes.append(node(rid, tip, 0 if step % 2 == 0 else 7, 0.25))
                tip = rid
            frontier.append(tip)
    forest = Forest.build(CONVERSATION, nodes, nodes[-1].response_id)
    app = TreeApp(forest)
    async with app.run_test() as pilot:
        await pilot.pause()
        tree = app.query_one(ForestTree)
        tree.show_totals = True  # its cost is measured by bench.start, not asserted here
        await pilot.pause()
        count, tokens, _ = tree.totals_for("r0") or (0, 0, 0.0)
        assert count == len(nodes)
        assert tokens == sum(n.token_count for n in nodes)
        # Cached per revision: asking again does not recompute.
        first = tree._totals
        tree.refresh_forest(forest)
        assert tree._totals is first


async def test_totals_key_on_a_real_forest(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (_, pilot, screen):
        b = await branched(screen, pilot)
        screen.action_open_conversation(b.cid)
        await settle(pilot)
        screen.thread.focus()
        await pilot.press("S")
        await settle(pilot)
        forest = screen.forest
        everything = list(forest.responses.values())
        expected = format_totals(
            (
                len(everything),
                sum(n.token_count for n in everything),
                sum(n.total_time for n in everything),
            )
        )
        assert tree_label(screen, b.h1).startswith(f"● {expected} "), tree_label(screen, b.h1)
        m2 = [forest.responses[r] for r in (b.m2, b.h2, b.m4)]
        expected = format_totals((3, sum(n.token_count for n in m2), sum(n.total_time for n in m2)))
        assert tree_label(screen, b.m2).startswith(f"◆ {expected} 2/3 "), tree_label(screen, b.m2)
        await pilot.press("S")
        await settle(pilot)
        assert "Σ" not in tree_label(screen, b.h1)


# -- helpers, help and keymap ----------------------------------------------------------------


def test_marks_and_tag_parsing() -> None:
    assert parse_tags(" idea,later  #todo,, idea ##x ") == ("idea", "later", "todo", "x")
    assert parse_tags("") == ()
    marks = run_marks(
        [
            Annotation(bookmarked=True, tags=("a",)),
            Annotation(rating=1, tags=("a", "b")),
            Annotation(rating=-1, note="n"),
            Annotation(),
        ]
    )
    assert marks == f"{BOOKMARK_MARK}{RATED_UP_MARK}{RATED_DOWN_MARK}#2{NOTE_MARK}"
    assert run_marks([Annotation(note="  ")]) == ""


async def test_help_lists_the_new_keys_and_the_keymap_rebinds_them(server: GroveServer) -> None:
    async with explorer(
        server.address, keymap={"bookmark": "B", "search": "ctrl+s"}, size=SIZE
    ) as (app, pilot, screen):
        await send(pilot, "Keymap for bookmarks")
        await settle(pilot)
        screen.thread.focus()
        await pilot.press("b")
        await settle(pilot)
        assert not screen.forest.responses[screen.forest.leaf_id].bookmarked
        await pilot.press("B")
        await settle(pilot)
        assert screen.forest.responses[screen.forest.leaf_id].bookmarked
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = {(keys, text) for _, keys, text in app.screen._rows}
        descriptions = " | ".join(text for _, text in rows)
        for words in (
            "Bookmark / unbookmark",
            "Rate the message +1",
            "Rate the message -1",
            "Note on the message",
            "Tag the message",
            "Next bookmark",
            "Previous bookmark",
            "Hoist the forest",
            "show the whole forest",
            "Subtree totals",
            "Search every conversation",
        ):
            assert words in descriptions, words
        keys = {text: keys for keys, text in rows}
        assert keys[next(t for t in keys if t.startswith("Bookmark /"))] == "B"
        assert keys[next(t for t in keys if t.startswith("Search every"))] == "^s"
        assert keys[next(t for t in keys if t.startswith("Rate the message +1"))] == "+ ="
