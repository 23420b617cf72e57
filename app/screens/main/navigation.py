"""Moving around the explorer: branches, bookmarks, hoisting, search, panes and links.

Nothing here writes to the server but the user's place: it moves the current path (which
the service stores as the place, in the background), the cursor or the view.
"""

from __future__ import annotations

import webbrowser
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from textual import on

from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.conversation_list import ConversationOptions
from grove_explorer.app.widgets.forest_tree import ForestTree
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.app.workers import run_service_call

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.research import SearchHit


class Navigation(ExplorerCore):
    """Branch, bookmark and search navigation; pane toggles; the widgets' requests."""

    @on(ForestTree.ResponseChosen)
    def _response_chosen(self, message: ForestTree.ResponseChosen) -> None:
        if self.conversation_id is not None:
            self.service.select(self.conversation_id, message.response_id)
            self.save_place()
            self._focused_response_id = message.response_id

    @on(ForestTree.ResponseHighlighted)
    def _response_highlighted(self, message: ForestTree.ResponseHighlighted) -> None:
        self._focused_response_id = message.response_id

    @on(ThreadView.MessageFocused)
    def _message_focused(self, message: ThreadView.MessageFocused) -> None:
        self._focused_response_id = message.response_id

    @on(ThreadView.LinkRequested)
    def _link_requested(self, message: ThreadView.LinkRequested) -> None:
        href = message.href
        if not href.lower().startswith(("http://", "https://")):
            self.notify(
                f"Not opening {clean(href)!r}: only http(s) links open.", severity="warning"
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                webbrowser.open(href)

        from grove_explorer.app.screens.dialogs import ConfirmScreen  # imported when first used

        self.app.push_screen(
            ConfirmScreen("Open this link in your browser?", clean(href), yes="Open"), answered
        )

    def action_sibling(self, delta: int) -> None:
        """Switches the focused message to its previous/next sibling branch."""
        target = self._target()
        forest = self.forest
        if target is None or forest is None or self.conversation_id is None:
            return
        path_ids = [n.response_id for n in forest.current_path]
        index = path_ids.index(target.response_id) if target.response_id in path_ids else None
        leaf = self.service.switch_sibling(self.conversation_id, target.response_id, delta)
        if leaf is None:
            k, n = forest.sibling_index(target.response_id)
            self.notify(
                f"No {'earlier' if delta < 0 else 'later'} branch here ({k}/{n}).", timeout=2
            )
            return
        self.save_place()
        if index is not None:
            new_id = forest.current_path[index].response_id
            self._focused_response_id = new_id
            self.call_later(self.thread.focus_message, new_id)

    def action_bookmark_jump(self, delta: int) -> None:
        """Goes to the next (delta 1) or previous (-1) bookmark in tree order, wrapping.

        Tree order is the forest pane's top-to-bottom order: depth first, older branches
        first. From the forest the search starts after (before) the node under the cursor;
        elsewhere after (before) the focused message. A bookmark off the current path is
        selected as the leaf; one on it just gets the cursor, so the path stays whole.
        """
        forest = self.forest
        if forest is None:
            return
        from grove_explorer.client.forest import preorder

        order = preorder(forest)
        responses = forest.responses
        marked = [i for i, rid in enumerate(order) if responses[rid].bookmarked]
        if not marked:
            self.notify("No bookmarks in this conversation (b bookmarks a message).", timeout=3)
            return
        position = {rid: i for i, rid in enumerate(order)}
        item = self.forest_pane.cursor_item if self.forest_pane.has_focus else None
        if item is not None and item.first_id in position:
            # A run is contiguous in tree order: first .. last.
            low, high = position[item.first_id], position.get(item.last_id, len(order))
        else:
            target = self._target()
            low = high = position.get(target.response_id, -1) if target else -1
        if delta > 0:
            at = bisect_right(marked, high)
            chosen = marked[at] if at < len(marked) else marked[0]
        else:
            at = bisect_left(marked, low)
            chosen = marked[at - 1] if at > 0 else marked[-1]
        self._go_to(order[chosen])

    def action_hoist(self) -> None:
        """Shows only the subtree under the node (the focused message's run) in the forest."""
        forest = self.forest
        if forest is None:
            return
        item = self.forest_pane.cursor_item if self.forest_pane.has_focus else None
        if item is not None:
            response_id = item.first_id
        else:
            target = self._target()
            if target is None:
                return
            response_id = target.response_id
        if forest.responses[response_id].streaming:
            self.notify("Wait for the reply to finish before hoisting at it.", timeout=3)
            return
        self.forest_pane.display = True
        if not self.forest_pane.hoist(response_id):
            self.notify("Nothing to hoist at.", severity="warning", timeout=3)

    def action_unhoist(self) -> None:
        """Shows the whole forest again."""
        if not self.forest_pane.unhoist():
            self.notify("The forest is not hoisted (H hoists at a node).", timeout=3)

    def action_subtree_totals(self) -> None:
        """Shows or hides each forest node's subtree totals (responses, tokens, time)."""
        self.forest_pane.show_totals = not self.forest_pane.show_totals
        if self.forest_pane.show_totals:
            self.forest_pane.display = True

    def action_search(self) -> None:
        """Opens the search screen (with the last query); a chosen hit is jumped to."""
        from grove_explorer.app.screens.search import SearchScreen  # imported when first used

        screen = SearchScreen(self.service, self._last_query)

        def chosen(hit: SearchHit | None) -> None:
            self._last_query = screen.query_text
            if hit is not None:
                self.jump_to_hit(hit)

        self.app.push_screen(screen, chosen)

    def jump_to_hit(self, hit: SearchHit) -> None:
        """Opens the hit's conversation and selects its response as the leaf.

        A title hit opens the conversation as it was left. The thread gets the focus, its
        cursor on the response.
        """
        response_id = hit.response_id or None

        def arrived(forest: Forest) -> None:
            if self.conversation_id != forest.conversation.conversation_id:
                self._show_forest(forest)
            else:
                self._refresh_views()
            if response_id is not None and response_id in forest.responses:
                self.save_place()
                self._focused_response_id = response_id
                self.thread.focus_message(response_id)
                self.forest_pane.show_response(response_id)
            elif response_id is not None:
                self.notify("That response is no longer in the conversation.", timeout=3)
            self.thread.focus()

        run_service_call(self, self.service.jump_to(hit.conversation_id, response_id), done=arrived)

    def action_focus_composer(self) -> None:
        """Moves focus to the composer."""
        self.composer.focus()

    def action_help(self) -> None:
        """Shows every binding."""
        nodes = [
            self.app,
            self,
            self.thread,
            self.forest_pane,
            self.query_one(ConversationOptions),
        ]
        self.app.push_screen(HelpScreen(binding_rows(nodes)))
