"""Writing and sampling: send, stop, resample, compare, edit, copy.

Calls that stream keep the composer busy until the service says no reply streams.
"""

from __future__ import annotations

from textual import on

from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.composer import Composer
from grove_explorer.app.workers import run_service_call

DEFAULT_BATCH = 4
"""Samples `R` draws without a count prefix."""


class ReplyActions(ExplorerCore):
    """The actions that send messages and sample replies."""

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        if self.refuse_read_only():
            return
        forest = self.forest
        if forest is not None and self.service.is_streaming(forest.conversation.conversation_id):
            self.notify(
                "A reply is still streaming: press Esc to stop it first.", severity="warning"
            )
            return
        text = message.text
        self._pending_text = text
        self.composer.busy = True
        run_service_call(self, self._send(text), always=self._after_stream)

    async def _send(self, text: str) -> None:
        """Sends `text` after the current path (first starting a conversation if none is open)."""
        forest = self.forest
        if forest is None:
            forest = await self.service.new_conversation(settings=self._pending_settings)
            # Adopt it now: the ConversationOpened event is still queued.
            self.conversation_id = forest.conversation.conversation_id
        cid = forest.conversation.conversation_id
        await self.service.send(cid, text, forest.committed_leaf)

    def action_stop(self) -> None:
        """Stops sampling (the partial reply is kept), or leaves the composer."""
        self._count = 0
        if self.conversation_id is not None and self.service.is_streaming(self.conversation_id):
            run_service_call(self, self.service.stop_all(self.conversation_id))
            self.notify("Stopping… the partial reply is kept.", timeout=3)
        elif self.composer.has_focus:
            self.thread.focus()

    def action_resample(self) -> None:
        """Samples a new sibling of the focused model message.

        A pending count prefix is dropped: it belongs to `R`, and left pending it would
        join the digits of the next count (`3r` then `2R` sampled 32).
        """
        self._count = 0
        if self.refuse_read_only():
            return
        target = self._target()
        if target is None or self.conversation_id is None:
            self.notify("Nothing to resample yet.", severity="warning")
            return
        if target.is_human or target.streaming:
            self.notify("Resample works on a finished model message.", severity="warning")
            return
        self.composer.busy = True
        run_service_call(
            self,
            self.service.resample(self.conversation_id, target.response_id),
            always=self._after_stream,
        )

    def action_continue_text(self) -> None:
        """Samples a model child of the focused message that continues its path's text."""
        self._count = 0
        if self.refuse_read_only():
            return
        target = self._target()
        if target is None or self.conversation_id is None or target.streaming:
            self.notify("Continue works on a finished message.", severity="warning")
            return
        self.composer.busy = True
        run_service_call(
            self,
            self.service.continue_text(self.conversation_id, target.response_id),
            always=self._after_stream,
        )

    def action_count(self, digit: int) -> None:
        """Accumulates a count prefix for `R` (e.g. `8R` samples eight)."""
        self._count = min(self._count * 10 + digit, 99)
        self.notify(f"{self._count}R samples {self._count} (Esc clears)", timeout=2)

    def action_sample_many(self) -> None:
        """Opens Compare and samples N siblings from each model of the session's fan-out.

        N is the count prefix, else the samples per model last chosen in Compare's params
        form (4 at first). Compare lowers a batch over its limit and says so.
        """
        from grove_explorer.app.screens.compare.fanout import session_of

        count, self._count = self._count, 0
        if self.refuse_read_only():
            return
        fan_out = session_of(self.service).fan_out
        self.action_compare(count or (fan_out.per_model if fan_out else DEFAULT_BATCH))

    def action_compare(self, samples: int = 0) -> None:
        """Opens the Compare screen on the focused model message and its siblings.

        With `samples` > 0 (the `R` key) it starts sampling that many new siblings at once.
        Picking a sample there makes it the current branch; the cursor returns to it here.
        """
        self._count = 0  # a count prefix applies to the next command only
        if samples and self.refuse_read_only():
            return
        target = self._target()
        cid = self.conversation_id
        if target is None or cid is None or target.is_human or target.streaming:
            self.notify("Compare works on a finished model message.", severity="warning")
            return

        def picked(sample_id: str | None) -> None:
            if sample_id is not None:
                self._focused_response_id = sample_id
                self._refresh_views()
                self.thread.focus_message(sample_id)

        # Compare (and the dialogs below) are imported when first used, not at start-up.
        from grove_explorer.app.screens.compare import CompareScreen

        self.app.push_screen(
            CompareScreen(self.service, cid, target.response_id, samples=samples), picked
        )

    def action_sweep(self) -> None:
        """Opens the sweep form on the focused message (its siblings, or replies to it)."""
        from grove_explorer.app.screens.sweep.launch import open_sweep

        self._count = 0
        if self.refuse_read_only():
            return
        target = self._target()
        cid = self.conversation_id
        if target is None or cid is None or target.streaming:
            self.notify("A sweep works on a finished message.", severity="warning")
            return
        open_sweep(self, self.service, cid, target)

    def action_arena(self) -> None:
        """Opens the blind arena on the focused message (app/screens/arena/)."""
        if self.refuse_read_only():
            return
        if self.conversation_id is None:
            self.notify("Open a conversation first.", severity="warning")
            return
        from grove_explorer.app.screens.arena.opening import open_arena

        open_arena(self, self.service, self.conversation_id, self._target())

    def action_arena_leaderboard(self) -> None:
        """The arena's leaderboard of this conversation's votes (all when none is open)."""
        from grove_explorer.app.screens.arena import LeaderboardScreen

        self.app.push_screen(LeaderboardScreen(self.service, self.conversation_id or ""))

    def action_edit(self) -> None:
        """Edits the focused message as a new branch beside it."""
        if self.refuse_read_only():
            return
        target = self._target()
        if target is None or self.conversation_id is None or target.streaming:
            self.notify("Nothing to edit.", severity="warning")
            return
        cid = self.conversation_id
        title = (
            "Edit your message (a new branch with a fresh reply)"
            if target.is_human
            else "Replace the model's reply (a manual response beside it)"
        )

        def edited(text: str | None) -> None:
            if text is None or text == target.message:
                return
            if target.is_human:
                self.composer.busy = True
            run_service_call(
                self,
                self.service.edit(cid, target.response_id, text),
                always=self._after_stream,
            )

        from grove_explorer.app.screens.dialogs import EditScreen

        self.app.push_screen(EditScreen(title, target.message), edited)

    def action_copy(self) -> None:
        """Copies the focused message's text to the clipboard."""
        target = self._target()
        if target is None:
            return
        self.app.copy_to_clipboard(target.message)
        self.notify(f"Copied {len(target.message)} characters.", timeout=2)
