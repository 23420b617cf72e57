"""Conversation-level actions: new, open, rename, star, title, delete, reload, model.

Also what the sidebar asks for (open a conversation, delete one after confirmation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on

from grove_explorer.app.safe_text import first_line
from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.conversation_list import ConversationList, ConversationOptions
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.events import ConversationSettings

if TYPE_CHECKING:
    from grove_explorer.client.catalog import ModelCatalog


class ConversationActions(ExplorerCore):
    """The actions on whole conversations and on what new replies are sampled with."""

    def action_new_conversation(self) -> None:
        """Starts a new, empty conversation with the current model and system prompt."""
        run_service_call(
            self,
            self.service.new_conversation(settings=self.settings),
            done=lambda _: self.composer.focus(),
        )

    def action_pick_model(self) -> None:
        """Chooses the model and system prompt of new replies (from the server's list)."""
        settings = self.settings

        def chosen(choice: ConversationSettings | None) -> None:
            if choice is not None and choice != settings:
                self._apply_settings(choice)

        def loaded(catalog: ModelCatalog) -> None:
            self._catalog = catalog
            self._show_settings()
            if self.app.screen is not self:  # a second `m`, or the user moved on
                return
            if not catalog.models:
                self.notify("The server offers no models to choose from.", severity="warning")
                return
            from grove_explorer.app.screens.model_picker import ModelPickerScreen

            self.app.push_screen(ModelPickerScreen(catalog, settings), chosen)

        run_service_call(self, self.service.models(), done=loaded)

    def action_generate_title(self) -> None:
        """Asks the server for a title from the current path."""
        if self.conversation_id is not None:
            run_service_call(self, self.service.generate_title(self.conversation_id))

    def action_toggle_star(self) -> None:
        """Stars or unstars the open conversation."""
        forest = self.forest
        if forest is not None:
            run_service_call(
                self,
                self.service.set_starred(
                    forest.conversation.conversation_id, not forest.conversation.starred
                ),
            )

    def action_rename(self) -> None:
        """Renames the open conversation."""
        forest = self.forest
        if forest is None:
            return
        cid = forest.conversation.conversation_id

        def renamed(title: str | None) -> None:
            if title is not None:
                run_service_call(self, self.service.set_title(cid, title.strip()))

        from grove_explorer.app.screens.dialogs import PromptScreen  # imported when first used

        self.app.push_screen(
            PromptScreen("Rename conversation", forest.conversation.title), renamed
        )

    def action_share_with_users(self) -> None:
        """Opens the share dialog of the open conversation (its owner only)."""
        forest = self.forest
        if forest is None:
            self.notify("Open a conversation first.", severity="warning")
            return
        summary = forest.conversation
        if summary.role != "owner":
            self.notify(
                f"Only {first_line(summary.owner_user_id, 40)}, who owns this conversation, "
                f"can share it; it is shared with you as a {summary.role}.",
                severity="warning",
            )
            return
        from grove_explorer.app.screens.share_dialog import ShareScreen

        self.app.push_screen(ShareScreen(self.service, summary.conversation_id, summary.title))

    def action_delete_conversation(self) -> None:
        """Deletes the open conversation (after confirmation)."""
        if self.conversation_id is not None:
            self._confirm_delete(self.conversation_id)

    def action_open_conversation(self, conversation_id: str) -> None:
        """Opens a conversation by id (used by the command palette)."""
        run_service_call(self, self.service.open(conversation_id))

    def action_reload(self) -> None:
        """Reloads the conversation list and the open conversation from the server.

        What a server stored is the truth after it went away: a restarted server has turned
        interrupted replies into partial ones, which the reload shows.
        """
        conversation_id = self.conversation_id
        if conversation_id is not None and self.service.is_streaming(conversation_id):
            self.notify("Replies are still streaming; stop them (Esc) to reload.", timeout=5)
            return

        async def reload() -> None:
            await self.service.list_conversations()
            if conversation_id is not None:
                await self.service.open(conversation_id)
            self.notify("Reloaded from the server.", timeout=3)

        run_service_call(self, reload())

    @on(ConversationList.OpenRequested)
    def _open_requested(self, message: ConversationList.OpenRequested) -> None:
        run_service_call(self, self.service.open(message.conversation_id))

    @on(ConversationOptions.DeleteRequested)
    def _delete_requested(self, message: ConversationOptions.DeleteRequested) -> None:
        self._confirm_delete(message.conversation_id)

    def _confirm_delete(self, conversation_id: str) -> None:
        sidebar = self.query_one(ConversationList)
        title = next(
            (s.title for s in sidebar.summaries if s.conversation_id == conversation_id), ""
        )

        def answered(yes: bool | None) -> None:
            if yes:
                run_service_call(self, self.service.delete(conversation_id))

        from grove_explorer.app.screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(
                f"Delete {first_line(title, 50) or 'this conversation'!r}?",
                "Every branch and reply in it is removed from the server.",
                yes="Delete",
            ),
            answered,
        )
