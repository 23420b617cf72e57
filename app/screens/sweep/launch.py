"""From the explorer's `W` to a running sweep: the form, then the progress screen."""

from __future__ import annotations

from textual.dom import DOMNode

from grove_explorer.app.screens.sweep.form import SweepFormScreen, SweepRequest
from grove_explorer.app.screens.sweep.running import SweepRunScreen
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import ConversationService


def open_sweep(
    screen: DOMNode, service: ConversationService, conversation_id: str, node: ResponseNode
) -> None:
    """Opens the form for a sweep at `node`; a submitted form starts the sweep.

    The models field starts with the node's model (a reply) or the conversation's.
    """
    model = "" if node.is_human else node.model_name
    model = model or service.settings(conversation_id).model_name

    def submitted(request: SweepRequest | None) -> None:
        if request is not None:
            # After the form has left the stack (its callback runs before that pop).
            run = SweepRunScreen(service, conversation_id, node.response_id, request)
            screen.app.call_later(screen.app.push_screen, run)

    screen.app.push_screen(SweepFormScreen(model), submitted)
