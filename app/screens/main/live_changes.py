"""What others do to the open conversation, shown as it happens (live shared trees).

The service follows the open conversation (client/service/watching.py): a reply sampled
elsewhere — another `grove`, a colleague, `grove sample` from a shell — is a placeholder
in the forest marked `⇄ who`; selecting it streams it in the thread with the same live
reply view (only changed lines repainted) as the app's own replies. Nothing here moves
the user's place. A title or star changed elsewhere updates the list (ConversationUpdated,
as any), a deletion elsewhere says so and closes the conversation — so does a watch begun
again after an outage (or ended by the server) that finds it deleted or the user's share
revoked meanwhile — and live updates that stop for another reason say why. A watch lost
because the server went away is tried again by the service; the status line says
"live: reconnecting…" meanwhile and "live again" once it is back.
"""

from __future__ import annotations

from textual import on

from grove_explorer.app import events
from grove_explorer.app.elsewhere_marks import deleted_notice, made_by_label
from grove_explorer.app.errors import describe_error
from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.conversation_list import ConversationList


class LiveChanges(ExplorerCore):
    """Handles the service's events of changes made elsewhere."""

    def _open_one(self, conversation_id: str) -> bool:
        return conversation_id == self.conversation_id

    @on(events.ReplyElsewhereStarted)
    def _on_reply_elsewhere_started(self, message: events.ReplyElsewhereStarted) -> None:
        event = message.event
        if not self._open_one(event.conversation_id):
            return
        forest = self.forest
        if forest is not None and event.node.parent_id == forest.leaf_id and self.in_front:
            self.notify(
                f"{made_by_label(event.node.made_by or '')} is sampling a reply to this "
                "message (select it in the forest to watch it stream).",
                timeout=4,
            )
        self._schedule_refresh()

    @on(events.ReplyElsewhereText)
    def _on_reply_elsewhere_text(self, message: events.ReplyElsewhereText) -> None:
        event = message.event
        if (
            self._open_one(event.conversation_id)
            and self.is_current
            and self.thread.live_response_id == event.response_id
        ):
            self.thread.append_tokens(event.text)

    @on(events.ReplyElsewhereEnded)
    def _on_reply_elsewhere_ended(self, message: events.ReplyElsewhereEnded) -> None:
        event = message.event
        if not self._open_one(event.conversation_id):
            return
        if self.thread.live_response_id == event.placeholder_id:
            if event.node is not None:
                self.thread.end_stream(event.node)
            else:
                self.thread.drop_stream(event.placeholder_id)
        self._schedule_refresh()

    @on(events.DeletedElsewhere)
    def _on_deleted_elsewhere(self, message: events.DeletedElsewhere) -> None:
        event = message.event
        self.query_one(ConversationList).remove_conversation(event.conversation_id)
        if not self._open_one(event.conversation_id):
            return
        text, heading = deleted_notice(str(self.title or "This conversation"), event)
        self.notify(text, title=heading, severity="warning", timeout=10)
        self._close_conversation()

    @on(events.WatchReconnecting)
    def _on_watch_reconnecting(self, message: events.WatchReconnecting) -> None:
        if self._open_one(message.event.conversation_id):
            self.status.live_reconnecting()
            self._schedule_refresh()  # the placeholders of replies elsewhere are gone

    @on(events.WatchResumed)
    def _on_watch_resumed(self, message: events.WatchResumed) -> None:
        if self._open_one(message.event.conversation_id):
            self.status.live_again()

    @on(events.WatchStopped)
    def _on_watch_stopped(self, message: events.WatchStopped) -> None:
        event = message.event
        if self._open_one(event.conversation_id):
            self.notify(
                f"{describe_error(event.error)} F5 reloads the conversation and follows it again.",
                title="Live updates stopped",
                severity="warning",
                timeout=10,
            )
            self._schedule_refresh()
