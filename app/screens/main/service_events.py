"""How the explorer follows the service: one handler per kind of service event.

The events arrive as the Messages of `app.events` (the screen subscribes with
`connect_service` on mount). Events of other conversations only update the sidebar.
"""

from __future__ import annotations

from textual import events as textual_events
from textual import on

from grove_explorer.app import events
from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.safe_text import first_line
from grove_explorer.app.screens.main.core import UNTITLED, ExplorerCore
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.workers import run_service_call


class ServiceEventHandlers(ExplorerCore):
    """Turns each kind of service event into widget updates."""

    def _ours(self, conversation_id: str) -> bool:
        """Whether an event is about the open conversation (the others only list)."""
        return conversation_id == self.conversation_id

    # While Compare covers the explorer, events keep the explorer's state (forest, list,
    # budget) but its drawing waits: the list is held, tree and thread refreshes and the
    # budget are remembered and done once when the explorer is in front again.

    @on(textual_events.ScreenSuspend)
    def _hold_while_covered(self) -> None:
        if not self.in_front:
            self.query_one(ConversationList).hold()

    @on(textual_events.ScreenResume)
    def _catch_up_when_uncovered(self) -> None:
        self.query_one(ConversationList).release()
        if self._held_budget is not None:
            budget, self._held_budget = self._held_budget, None
            self.status.budget(*budget)
        if self._refresh_held:
            self._refresh_held = False
            self._refresh_views()

    @on(events.ConversationsListed)
    def _on_conversations_listed(self, message: events.ConversationsListed) -> None:
        self.query_one(ConversationList).set_conversations(message.event.conversations)

    @on(events.ConversationUpdated)
    def _on_conversation_updated(self, message: events.ConversationUpdated) -> None:
        conversation = message.event.conversation
        self.query_one(ConversationList).upsert(conversation)
        if self._ours(conversation.conversation_id):
            self.title = first_line(conversation.title, 60) or UNTITLED

    @on(events.ConversationDeleted)
    def _on_conversation_deleted(self, message: events.ConversationDeleted) -> None:
        conversation_id = message.event.conversation_id
        self.query_one(ConversationList).remove_conversation(conversation_id)
        if self._ours(conversation_id):
            self._close_conversation()

    @on(events.ConversationOpened)
    def _on_conversation_opened(self, message: events.ConversationOpened) -> None:
        forest = message.event.forest
        self._show_forest(forest)
        self.service.follow(forest.conversation.conversation_id)  # live_changes.py
        self.query_one(ConversationList).upsert(forest.conversation)
        self._show_settings()

    @on(events.SettingsChanged)
    def _on_settings_changed(self, message: events.SettingsChanged) -> None:
        if self._ours(message.event.conversation_id):
            self._show_settings()

    @on(events.TokensAppended)
    def _on_tokens_appended(self, message: events.TokensAppended) -> None:
        event = message.event
        if not self._ours(event.conversation_id) or not self.is_current:
            # Not current: another screen (compare) is streaming; skip per-token work
            # here, the completed reply replaces whatever the live view had.
            return
        if self.thread.live_response_id == event.response_id:
            self.thread.append_tokens(event.text)
        self._live_tokens += len(event.tokens)
        self.status.tokens_arrived(len(event.tokens))
        self.forest_pane.set_streaming(event.response_id, self._live_tokens)

    @on(events.ResponseAdded)
    def _on_response_added(self, message: events.ResponseAdded) -> None:
        event = message.event
        # Its relative time in the sidebar ("now") and its place follow (open or not).
        self.query_one(ConversationList).touch(event.conversation_id, event.node.create_time)
        if not self._ours(event.conversation_id):
            return
        if event.node.streaming:
            self._live_tokens = 0
            self.status.stream_started()
        elif event.node.is_human and event.node.message == self._pending_text:
            self._pending_text = None
            self.composer.clear()
        self._schedule_refresh()

    @on(events.ResponseCompleted)
    def _on_response_completed(self, message: events.ResponseCompleted) -> None:
        event = message.event
        if not self._ours(event.conversation_id):
            return
        if self.thread.live_response_id == event.placeholder_id:
            self.thread.end_stream(event.node)
        self.forest_pane.set_streaming(None)
        self._after_stream()
        self._schedule_refresh()
        self._auto_title()

    @on(events.StreamFailed)
    def _on_stream_failed(self, message: events.StreamFailed) -> None:
        event = message.event
        if not self._ours(event.conversation_id):
            return
        if event.partial is None:
            # Nothing stored: the live reply goes (a partial was shown by
            # ResponseCompleted already).
            self.thread.drop_stream(event.placeholder_id)
        self.forest_pane.set_streaming(None)
        self._after_stream()
        if self.in_front:  # the compare screen reports its own samples' failures
            # A partial reply was stored and shown already (ResponseCompleted came
            # first); the server's sentence says it was kept.
            self.notify(
                describe_error(event.error),
                title=error_title(event.error, "Sampling failed"),
                severity="error",
                timeout=10,
            )
        self._schedule_refresh()

    @on(events.LeafMoved)
    def _on_leaf_moved(self, message: events.LeafMoved) -> None:
        if self._ours(message.event.conversation_id):
            self._schedule_refresh()

    @on(events.BudgetUpdated)
    def _on_budget_updated(self, message: events.BudgetUpdated) -> None:
        event = message.event
        if not self._ours(event.conversation_id):
            return
        budget = (event.prompt_tokens, event.sampled_tokens, event.max_tokens)
        if self.in_front:
            self.status.budget(*budget)
        else:
            self._held_budget = budget

    @on(events.QueryPerformed)
    def _on_query_performed(self, message: events.QueryPerformed) -> None:
        event = message.event
        if self._ours(event.conversation_id):
            self.status.query_action(event.query_type, event.query)

    def _auto_title(self) -> None:
        """Titles a new conversation from its first exchange, as the seed's example does."""
        forest = self.forest
        if (
            forest is None
            or forest.conversation.title
            or self.service.is_streaming(forest.conversation.conversation_id)
        ):
            return
        run_service_call(self, self.service.generate_title(forest.conversation.conversation_id))
