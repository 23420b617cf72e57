"""The explorer's token keys: `v` opens the token view, `V` shades a message by probability.

The token view (`app.screens.tokens`) knows nothing of the explorer: it dismisses with the
`TokenBranch` asked for, and the explorer samples that branch here, in its own worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grove_explorer.app.screens.main.core import ExplorerCore
from grove_explorer.app.widgets.message_view import MessageView
from grove_explorer.app.workers import run_service_call

if TYPE_CHECKING:
    from grove_explorer.app.screens.tokens import TokenBranch
    from grove_explorer.client.models import ResponseNode, TokenInfo


class TokenActions(ExplorerCore):
    """Token view and token shading of the focused model message."""

    def action_token_view(self) -> None:
        """Opens the token view of the focused model message (Enter there branches)."""
        self._open_token_view(self._target())

    def action_token_shading(self) -> None:
        """Shades the focused model message by token probability, or back to Markdown."""
        self._toggle_token_shading(self._target())

    def _refused(self, node: ResponseNode | None) -> tuple[str, ResponseNode] | None:
        """The open conversation's id and `node` when tokens can be shown, else says why."""
        from grove_explorer.app.screens.tokens import refusal  # the token view's, when used

        cid = self.conversation_id
        reason = refusal(node) if cid is not None else "No conversation is open."
        if reason is not None or node is None or cid is None:
            self.notify(reason or "No message here yet.", severity="warning", timeout=3)
            return None
        return cid, node

    def _open_token_view(self, node: ResponseNode | None) -> None:
        """Opens the token view of `node`.

        A branch chosen there is sampled by the explorer (in its worker) and becomes the
        current path.
        """
        allowed = self._refused(node)
        if allowed is None:
            return
        cid, target = allowed
        service = self.service

        def focus(new: ResponseNode | None) -> None:
            if new is not None:
                self.call_after_refresh(self.thread.focus_message, new.response_id)

        def chosen(choice: TokenBranch | None) -> None:
            if choice is None:
                return
            # The reply streams like any other: the explorer's events show it and keep the
            # composer busy meanwhile. Once stored, the message cursor goes to it.
            run_service_call(
                self,
                service.branch_from_token(cid, target.response_id, choice.index, choice.text),
                done=focus,
            )

        from grove_explorer.app.screens.tokens import TokenViewScreen

        self.app.push_screen(TokenViewScreen(service, cid, target), chosen)

    def _toggle_token_shading(self, node: ResponseNode | None) -> None:
        """Shades `node` in the thread by token probability, or unshades it.

        The tokens are fetched in a worker; the thread may show other messages by then, so
        the view is looked up again when they arrive.
        """
        allowed = self._refused(node)
        if allowed is None:
            return
        cid, target = allowed
        rid = target.response_id

        def view() -> MessageView | None:
            return next((v for v in self.thread.query(MessageView) if v.response_id == rid), None)

        shown = view()
        if shown is None:
            self.notify("Focus a message in the thread to shade it.", timeout=3)
            return
        if shown.shaded:
            shown.shade(None)
            return

        def loaded(tokens: list[TokenInfo]) -> None:
            found = view()
            if found is None:
                return
            if not tokens:
                self.notify("No tokens are stored for this reply.", timeout=3)
                return
            if "".join(t.text for t in tokens) != found.node.message:
                # Shading would show the tokens' text in place of the message's.
                self.notify(
                    "This reply's stored tokens do not spell its text: see them with v.",
                    severity="warning",
                    timeout=5,
                )
                return
            found.shade(tokens)

        run_service_call(self, self.service.tokens(cid, rid), done=loaded)
