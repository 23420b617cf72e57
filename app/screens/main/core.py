"""The explorer's core: its state, panes, settings and how it redraws from the forest.

Every other part of the explorer (`service_events`, `navigation`, `replies`,
`token_actions`, `conversation_actions`, `annotating`) is a subclass of `ExplorerCore`
that adds one concern; `MainScreen` combines them. What more than one part needs lives
here: the open conversation, the focused message (`_target`), and the coalesced redraw
of tree and thread (`_schedule_refresh` / `_refresh_views`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Header

from grove_explorer.app.events import connect_service
from grove_explorer.app.memory import freeze_long_lived
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.app.screens.help import keys_by_id
from grove_explorer.app.viewpoint import Viewpoint, set_viewpoint, viewpoint_of
from grove_explorer.app.widgets.composer import Composer, read_only_words
from grove_explorer.app.widgets.conversation_list import ConversationList
from grove_explorer.app.widgets.fitting_footer import FittingFooter
from grove_explorer.app.widgets.forest_tree import ForestTree
from grove_explorer.app.widgets.pane_divider import PaneDivider
from grove_explorer.app.widgets.status_line import StatusLine
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.app.widgets.welcome import Welcome
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.events import ConversationSettings
from grove_explorer.client.service import ConversationService

if TYPE_CHECKING:
    from grove_explorer.client.catalog import ModelCatalog
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.models import ResponseNode

UNTITLED = "Untitled conversation"
_EPOCH = datetime.min.replace(tzinfo=UTC)
log = logging.getLogger(__name__)


def prompt_label(settings: ConversationSettings) -> str:
    """The prompt as the status line names it: "default", "fun", … or "raw"."""
    if not settings.use_system_prompt:
        return "raw"
    return clean(settings.system_prompt_name) or "default"


def model_label(settings: ConversationSettings, catalog: ModelCatalog | None) -> str:
    """The model new replies use: the server default's own name when none is set."""
    if settings.model_name:
        return clean(settings.model_name)
    if catalog is not None and catalog.default_model:
        return clean(catalog.default_model)
    return "server default"


class ExplorerCore(Screen[None]):
    """State and panes of the explorer screen; see `MainScreen` for the whole."""

    def __init__(self, service: ConversationService) -> None:
        super().__init__()
        self.service = service
        self.conversation_id: str | None = None
        self._focused_response_id: str | None = None
        self._pending_text: str | None = None
        self._refresh_pending = False
        self._refresh_held = False  # a refresh asked for while Compare covered the explorer
        self._held_budget: tuple[int, int, int] | None = None  # the budget shown after it
        self._live_tokens = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._count = 0
        self._catalog: ModelCatalog | None = None
        # What the first message (or `n`) uses while no conversation is open: the last
        # choice in the picker, or the settings of the conversation that was closed.
        self._pending_settings = ConversationSettings()
        self._shown_settings = self._pending_settings
        # Annotation changes run one at a time, each reading the annotation as the previous
        # one left it: two quick `b` presses toggle twice instead of setting twice.
        self._annotate_lock = asyncio.Lock()
        self._last_query = ""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="body"):
            yield ConversationList(id="sidebar")
            yield ForestTree(id="forest")
            yield PaneDivider(id="divider")
            with Vertical(id="main"):
                yield Welcome(id="welcome")
                yield ThreadView(id="thread")
                yield StatusLine(id="status")
                yield Composer(id="composer")
        yield FittingFooter()

    @property
    def forest(self) -> Forest | None:
        """The open conversation's forest."""
        if self.conversation_id is None:
            return None
        try:
            return self.service.forest(self.conversation_id)
        except KeyError:
            return None

    @property
    def thread(self) -> ThreadView:
        """The thread pane."""
        return self.query_one(ThreadView)

    @property
    def forest_pane(self) -> ForestTree:
        """The forest pane."""
        return self.query_one(ForestTree)

    @property
    def composer(self) -> Composer:
        """The composer."""
        return self.query_one(Composer)

    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.query_one(StatusLine)

    @property
    def in_front(self) -> bool:
        """True unless another full screen (Compare) covers this one; dialogs do not.

        `Screen.is_current` cannot tell: Textual counts the screen right under the top one
        as visible whatever covers it.
        """
        for screen in reversed(self.app.screen_stack):
            if screen is self:
                return True
            if not isinstance(screen, ModalScreen):
                return False
        return False

    def on_mount(self) -> None:
        self._unsubscribe = connect_service(self.service, self)
        self.title = "Grove"
        self._show_server()
        self.status.redraw(force=True)
        self.composer.focus()
        self.query_one(ConversationList).border_title = "Conversations"
        self.forest_pane.border_title = "Forest"
        self.query_one("#main").border_title = "Thread"
        self._apply_layout()
        self._show_welcome()
        run_service_call(self, self._open_newest())
        self.run_worker(self._load_catalog(), group="catalog", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        set_viewpoint(Viewpoint())  # the next explorer (a test's next app) starts unaware

    def _show_server(self) -> None:
        """Names the server in the header and status line, once known.

        An embedded server starts after the first frame: its address comes later.
        """
        if not self.service.api_host:
            self.run_worker(self._server_known(), group="server", exit_on_error=False)
        self.sub_title = self.service.api_host
        self.status.server = self.service.api_host

    async def _server_known(self) -> None:
        await self.service.connected()
        self._show_server()

    def _apply_layout(self) -> None:
        """Shows and sizes the panes for the terminal (`PaneLayout`)."""

    async def _open_newest(self) -> None:
        """Lists the conversations and opens the newest, so the first screen has content.

        Nothing is opened when the user got somewhere first (typed a first message, chose
        or started a conversation — maybe while the list was on its way, before the event
        saying so arrived) or when there is none: then the welcome panel shows.
        """
        opened = self.service.opened
        summaries = await self.service.list_conversations()
        if (
            not summaries
            or self.conversation_id is not None
            or self._pending_text
            or self.service.opened != opened
        ):
            return
        newest = max(
            summaries,
            key=lambda s: (s.update_time or s.create_time or _EPOCH, s.create_time or _EPOCH),
        )
        await self.service.open(newest.conversation_id)

    def _show_welcome(self) -> None:
        """The welcome panel (essential keys) above the empty thread while nothing is open.

        The thread stays (empty, and focusable: keys like `n` keep working from it).
        """
        welcome = self.query_one(Welcome)
        empty = self.conversation_id is None
        if empty:
            welcome.show_keys(keys_by_id([self, self.app]))
        welcome.display = empty

    async def _load_catalog(self) -> None:
        """Fetches the server's models once, to name the default model in the status line.

        Quietly: a server without ListModels still works with its default model, and the
        picker (`m`) reports the error when the user asks for the list.
        """
        try:
            self._catalog = await self.service.models()
        except Exception:
            log.debug("ListModels failed; the status line says 'server default'", exc_info=True)
            return
        self._show_settings()

    @property
    def settings(self) -> ConversationSettings:
        """The model and system prompt the next reply uses (the open conversation's)."""
        if self.conversation_id is not None:
            try:
                return self.service.settings(self.conversation_id)
            except KeyError:
                pass
        return self._pending_settings

    def _show_settings(self) -> None:
        settings = self._shown_settings = self.settings
        self.status.set_settings(model_label(settings, self._catalog), prompt_label(settings))

    def _apply_settings(self, settings: ConversationSettings) -> None:
        """Uses `settings` for new replies (or for the conversation the next message starts)."""
        cid = self.conversation_id
        if cid is not None:
            try:
                self.service.configure(
                    cid,
                    model_name=settings.model_name,
                    system_prompt_name=settings.system_prompt_name,
                    use_system_prompt=settings.use_system_prompt,
                )
            except KeyError:
                cid = None
        if cid is None:
            self._pending_settings = settings
        self._show_settings()
        self.notify(
            f"New replies: model {model_label(settings, self._catalog)}, "
            f"prompt {prompt_label(settings)}.",
            timeout=3,
        )

    def _after_stream(self) -> None:
        busy = self.conversation_id is not None and self.service.is_streaming(self.conversation_id)
        self.composer.busy = busy
        if not busy:
            self.status.stream_ended()

    def _show_forest(self, forest: Forest) -> None:
        cid = forest.conversation.conversation_id
        if cid != self.conversation_id:
            self.status.conversation_changed(streaming=self.service.is_streaming(cid))
        self.conversation_id = cid
        self.title = first_line(forest.conversation.title, 60) or UNTITLED
        shared = forest.conversation
        set_viewpoint(viewpoint_of(shared))  # "You" and "by bob" from this user's side
        self.composer.read_only_owner = shared.owner_user_id if shared.role == "reader" else ""
        self.query_one(ConversationList).set_active(self.conversation_id)
        self.forest_pane.show_forest(forest)
        self._show_welcome()
        self._refresh_views()
        self.call_after_refresh(freeze_long_lived)

    def _close_conversation(self) -> None:
        # The next conversation continues with its settings (those shown: a deleted
        # conversation is already gone from the service).
        self._pending_settings = self._shown_settings
        self.service.stop_following()  # what others do to it no longer shows
        self.conversation_id = None
        self.status.conversation_changed()
        self.title = "Grove"
        self.composer.read_only_owner = ""
        set_viewpoint(Viewpoint())
        self.query_one(ConversationList).set_active(None)
        self.forest_pane.clear()
        self.thread.clear_thread()
        self._show_welcome()
        self._show_settings()

    def refuse_read_only(self) -> bool:
        """True (and says so) when the open conversation is shared with the user as a reader.

        The composer and the sampling keys check it first: a reader's attempt would be
        refused by the server anyway; this says why before anything is sent.
        """
        if not self.composer.read_only_owner:
            return False
        self.notify(
            f"{read_only_words(self.composer.read_only_owner)}; ask them for writer access.",
            severity="warning",
        )
        return True

    def _schedule_refresh(self) -> None:
        """Coalesces structural updates into one refresh of tree and thread.

        While another screen covers the explorer, the refresh waits until it is in front
        again (`_catch_up_when_uncovered`).
        """
        if not self.in_front:
            self._refresh_held = True
            return
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_later(self._refresh_views)

    def save_place(self) -> None:
        """Reports a failure to store the place the user just moved to (sent by the service).

        The move itself is instant; the server learns it in the background, and a failure
        (the server went away, the conversation was deleted elsewhere) becomes a
        notification instead of a place silently lost.
        """
        if self.conversation_id is not None:
            run_service_call(
                self,
                self.service.leaf_saved(self.conversation_id),
                name="save place",
                group="place",
            )

    def _refresh_views(self) -> None:
        self._refresh_pending = False
        forest = self.forest
        if forest is None:
            return
        path = forest.current_path
        live = path[-1] if path and path[-1].streaming else None
        shown = forest.model_copy(update={"leaf_id": live.parent_id}) if live else forest
        self.thread.show_path(shown)
        if live is not None and self.thread.live_response_id != live.response_id:
            self.thread.begin_stream(live, forest.sibling_index(live.response_id))
            if live.message:
                self.thread.append_tokens(live.message)
        self.forest_pane.refresh_forest(forest)
        self.forest_pane.set_current_path([n.response_id for n in path])
        self.composer.busy = self.service.is_streaming(forest.conversation.conversation_id)

    def _target(self) -> ResponseNode | None:
        """The message the user is on: the focused one, else the leaf."""
        forest = self.forest
        if forest is None:
            return None
        rid = self.thread.focused_response_id or self._focused_response_id or forest.leaf_id
        if rid is None or rid not in forest.responses:
            rid = forest.leaf_id
        return forest.responses.get(rid) if rid else None

    def _go_to(self, response_id: str) -> None:
        """Shows `response_id` in the thread with the cursor on it (and in the forest)."""
        forest = self.forest
        cid = self.conversation_id
        if forest is None or cid is None or response_id not in forest.responses:
            return
        if all(node.response_id != response_id for node in forest.current_path):
            self.service.select(cid, response_id)
            self.save_place()
        self._focused_response_id = response_id
        self._refresh_views()
        self.thread.focus_message(response_id)
        self.forest_pane.show_response(response_id)

    def render_title_text(self) -> Text:
        """The open conversation's title as inert text (for tests and the palette)."""
        return Text(self.title or "")
