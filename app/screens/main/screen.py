"""`MainScreen`, the explorer: conversations, the response forest, the thread, the composer.

Only this screen talks to `ConversationService`, always in workers (`app.workers`).
Widgets get state from here and report user intent with Messages; service events come
back as one Message class per kind (`app.events`), each handled in its own method.
Errors become notifications carrying the server's sentence; nothing the user typed is
lost.

The screen is assembled from one class per concern, each a subclass of `ExplorerCore`:
`ServiceEventHandlers` (following the service), `LiveChanges` (what others do to the
open conversation), `Navigation`, `ReplyActions`,
`TokenActions`, `ConversationActions`, `Annotating` and `PaneLayout` (pane sizes).
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from grove_explorer.app.screens.main.annotating import Annotating
from grove_explorer.app.screens.main.bindings import EXPLORER_BINDINGS
from grove_explorer.app.screens.main.conversation_actions import ConversationActions
from grove_explorer.app.screens.main.layout import PaneLayout
from grove_explorer.app.screens.main.live_changes import LiveChanges
from grove_explorer.app.screens.main.navigation import Navigation
from grove_explorer.app.screens.main.replies import ReplyActions
from grove_explorer.app.screens.main.service_events import ServiceEventHandlers
from grove_explorer.app.screens.main.token_actions import TokenActions
from grove_explorer.app.screens.replay.launch import ReplayLaunch


class MainScreen(
    ServiceEventHandlers,
    LiveChanges,
    Navigation,
    ReplyActions,
    TokenActions,
    ConversationActions,
    Annotating,
    ReplayLaunch,
    PaneLayout,
):
    """Sidebar | forest | thread + composer, with branch navigation keys."""

    BINDINGS: ClassVar[list[BindingType]] = EXPLORER_BINDINGS

    DEFAULT_CSS = """
    MainScreen #body {
        height: 1fr;
    }
    MainScreen #forest {
        width: 38;
    }
    MainScreen #sidebar, MainScreen #forest, MainScreen #main {
        border-top: hkey $panel-lighten-2;
        border-title-align: left;
        border-title-color: $text-muted;
        border-title-style: bold;
    }
    MainScreen #sidebar:focus-within, MainScreen #forest:focus, MainScreen #main:focus-within {
        border-title-color: $text-accent;
    }
    MainScreen #main {
        width: 1fr;
    }
    MainScreen #thread {
        height: 1fr;
    }
    """

    def _compositor_refresh(self) -> None:
        """Textual's, except that before the app's first frame none is rendered to be dropped.

        At start-up the app mounts this screen inside its own batch update, and Textual
        lays it out and renders a whole frame there that `App._display` then discards
        (~35 ms of `grove`'s start); the frame after the batch renders everything again.
        Until the first frame is out, such a refresh only marks the screen for repaint.
        """
        app = self.app
        if app._batch_count and not getattr(app, "painted", True):
            self._repaint_required = True
            return
        super()._compositor_refresh()
