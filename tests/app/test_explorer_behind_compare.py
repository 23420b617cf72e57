"""The explorer while Compare covers it: it keeps its state but holds its drawing (the
conversation list, tree and thread refreshes, the budget) and catches up once when it is
in front again."""

from __future__ import annotations

from textual.widgets.tree import TreeNode

from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.server.runtime import GroveServer
from tests.app.test_compare import SIZE, SMALL, conversation_with_siblings, open_compare
from tests.app_helpers import explorer, settle


def listed(screen: MainScreen) -> list[str]:
    options = screen.query_one(ConversationList).options
    return [options.get_option_at_index(i).id for i in range(options.option_count)]


def labels(node: TreeNode[object]) -> list[str]:
    found = [] if node.is_root else [node.label.plain]
    for child in node.children:
        found += labels(child)
    return found


async def test_explorer_catches_up_once_compare_closes(server: GroveServer) -> None:
    async with explorer(server.address, size=SIZE) as (app, pilot, screen):
        service = screen.service
        other = (await service.new_conversation()).conversation.conversation_id
        assert await service.send(other, "Hello there", None, sampling=SMALL) is not None
        cid, siblings = await conversation_with_siblings(screen)
        await settle(pilot)
        assert screen.conversation_id == cid
        assert listed(screen) == [cid, other]
        compare = await open_compare(pilot, screen, siblings[0])
        # Behind Compare: two more siblings are sampled in the open conversation, its
        # leaf moves, and then another conversation gets a reply (it moves up the list).
        await pilot.press("2", "R")
        await settle(pilot)
        shown_before = [n.response_id for n in screen.thread.path]
        service.select(cid, siblings[1])  # the leaf moves (as another client could)
        assert await service.send(other, "And more", None, sampling=SMALL) is not None
        await settle(pilot)
        assert app.screen is compare
        assert len(compare.columns) == 4
        assert listed(screen) == [cid, other], "the list is not redrawn while covered"
        assert [n.response_id for n in screen.thread.path] == shown_before
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert listed(screen) == [other, cid]
        forest = service.forest(cid)
        count = len(forest.siblings_of(siblings[0]))
        assert any(f"/{count}" in label for label in labels(screen.forest_pane.root))
        assert count == 4
        assert [n.response_id for n in screen.thread.path] == [
            n.response_id for n in forest.current_path
        ]
        assert forest.current_path[-1].response_id == siblings[1]
