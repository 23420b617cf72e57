"""The explorer screen: conversations, the response forest, the thread and the composer.

Only this screen talks to `ConversationService`, always in workers. Widgets get state
from here and report user intent with Messages; service events come back as one Message
class per kind (`app.events`), each handled in its own method. Errors become notifications
carrying the server's sentence; nothing the user typed is lost.
"""

from __future__ import annotations

import asyncio
import logging
import webbrowser
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header

from grove_explorer.app import events
from grove_explorer.app.annotation_marks import format_tags, parse_tags
from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.events import connect_service
from grove_explorer.app.memory import freeze_long_lived
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.app.screens.compare import MAX_SAMPLES as MAX_BATCH
from grove_explorer.app.screens.compare import CompareScreen
from grove_explorer.app.screens.dialogs import ConfirmScreen, EditScreen, NoteScreen, PromptScreen
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.screens.model_picker import ModelPickerScreen, model_label, prompt_label
from grove_explorer.app.screens.search import SearchScreen
from grove_explorer.app.screens.tokens import open_token_view, toggle_token_shading
from grove_explorer.app.widgets.composer import Composer
from grove_explorer.app.widgets.conversation_list import ConversationList, ConversationOptions
from grove_explorer.app.widgets.forest_tree import PENDING_PREFIX, ForestTree, preorder
from grove_explorer.app.widgets.status_line import StatusLine
from grove_explorer.app.widgets.thread_view import ThreadView
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.catalog import ModelCatalog
from grove_explorer.client.events import ConversationSettings
from grove_explorer.client.models import Forest, ResponseNode
from grove_explorer.client.research import Annotation, SearchHit
from grove_explorer.client.service import ConversationService

UNTITLED = "Untitled conversation"
DEFAULT_BATCH = 4
log = logging.getLogger(__name__)


class MainScreen(Screen[None]):
    """Sidebar | forest | thread + composer, with branch navigation keys."""

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("left,h", "sibling(-1)", "Prev branch", id="prev_sibling"),
        Binding("right,l", "sibling(1)", "Next branch", id="next_sibling"),
        Binding("r", "resample", "Resample", id="resample"),
        Binding("c", "compare", "Compare", id="compare", show=False),
        Binding("R", "sample_many", "Sample N", id="sample_many", show=False),
        Binding(
            "v",
            "token_view",
            "Tokens",
            id="token_view",
            tooltip="Token view: probabilities, alternatives, branch from a token",
        ),
        Binding(
            "V",
            "token_shading",
            "Shade",
            id="token_shading",
            show=False,
            tooltip="Shade the message by token probability (again: off)",
        ),
        # A count typed before R (e.g. 8R) sets how many samples to draw.
        *(Binding(str(d), f"count({d})", "", show=False) for d in range(10)),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("y", "copy", "Copy", id="copy"),
        Binding("n", "new_conversation", "New", id="new_conversation"),
        Binding("t", "generate_title", "Title", id="generate_title"),
        Binding("s", "toggle_star", "Star", id="star"),
        # Annotations, bookmarks, hoisting, totals and search (see "Annotating and
        # searching" in the README).
        Binding(
            "b",
            "bookmark",
            "Bookmark",
            id="bookmark",
            tooltip="Bookmark / unbookmark the message",
        ),
        Binding(
            "plus,equals_sign",
            "rate(1)",
            "Rate +1",
            id="rate_up",
            show=False,
            tooltip="Rate the message +1 (again: clear)",
        ),
        Binding(
            "minus",
            "rate(-1)",
            "Rate -1",
            id="rate_down",
            show=False,
            tooltip="Rate the message -1 (again: clear)",
        ),
        Binding(
            "N",
            "note",
            "Note",
            id="note",
            show=False,
            tooltip="Note on the message (empty removes it)",
        ),
        Binding(
            "T",
            "tags",
            "Tags",
            id="tags",
            show=False,
            tooltip="Tag the message (space or comma separated)",
        ),
        Binding(
            "right_square_bracket",
            "bookmark_jump(1)",
            "Next bookmark",
            id="next_bookmark",
            show=False,
            tooltip="Next bookmark (tree order)",
        ),
        Binding(
            "left_square_bracket",
            "bookmark_jump(-1)",
            "Prev bookmark",
            id="prev_bookmark",
            show=False,
            tooltip="Previous bookmark (tree order)",
        ),
        Binding(
            "H",
            "hoist",
            "Hoist",
            id="hoist",
            show=False,
            tooltip="Hoist the forest at this node",
        ),
        Binding(
            "U",
            "unhoist",
            "Unhoist",
            id="unhoist",
            show=False,
            tooltip="Unhoist: show the whole forest",
        ),
        Binding(
            "S",
            "subtree_totals",
            "Totals",
            id="subtree_totals",
            show=False,
            tooltip="Subtree totals in the forest on / off",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="search",
            tooltip="Search every conversation",
        ),
        Binding("f2", "rename", "Rename", id="rename"),
        Binding(
            "m", "pick_model", "Model", id="pick_model", tooltip="Choose model / system prompt"
        ),
        Binding("i", "focus_composer", "Write", id="focus_composer", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="toggle_sidebar", show=False),
        Binding("ctrl+f", "toggle_forest", "Forest", id="toggle_forest", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding(
            "f5",
            "reload",
            "Reload",
            id="reload",
            show=False,
            tooltip="Reload from the server (after it restarted)",
        ),
    ]

    DEFAULT_CSS = """
    MainScreen #body {
        height: 1fr;
    }
    MainScreen #forest {
        width: 38;
        border-right: vkey $panel-lighten-2;
    }
    MainScreen #main {
        width: 1fr;
    }
    MainScreen #thread {
        height: 1fr;
    }
    MainScreen.-narrow #sidebar {
        display: none;
    }
    MainScreen.-narrow #forest {
        width: 28;
    }
    """

    def __init__(self, service: ConversationService) -> None:
        super().__init__()
        self.service = service
        self.conversation_id: str | None = None
        self._focused_response_id: str | None = None
        self._pending_text: str | None = None
        self._refresh_pending = False
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

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="body"):
            yield ConversationList(id="sidebar")
            yield ForestTree(id="forest")
            with Vertical(id="main"):
                yield ThreadView(id="thread")
                yield StatusLine(id="status")
                yield Composer(id="composer")
        yield Footer()

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
    def tree(self) -> ForestTree:
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
        self.sub_title = self.service.api_host
        self.title = "Grove"
        self.status.server = self.service.api_host
        self.status.redraw(force=True)
        self.composer.focus()
        self._apply_width(self.size.width)
        run_service_call(self, self.service.list_conversations())
        self.run_worker(self._load_catalog(), group="catalog", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def on_resize(self, event: Any) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < 110, "-narrow")

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

    # -- model and system prompt -------------------------------------------------------------

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

    # -- service events ----------------------------------------------------------------------

    def _ours(self, conversation_id: str) -> bool:
        """Whether an event is about the open conversation (the others only list)."""
        return conversation_id == self.conversation_id

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
        self.query_one(ConversationList).remove(conversation_id)
        if self._ours(conversation_id):
            self._close_conversation()

    @on(events.ConversationOpened)
    def _on_conversation_opened(self, message: events.ConversationOpened) -> None:
        forest = message.event.forest
        self._show_forest(forest)
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
        self.tree.set_streaming(event.response_id, self._live_tokens)

    @on(events.ResponseAdded)
    def _on_response_added(self, message: events.ResponseAdded) -> None:
        event = message.event
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
        self.tree.set_streaming(None)
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
        self.tree.set_streaming(None)
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
        if self._ours(event.conversation_id):
            self.status.budget(event.prompt_tokens, event.sampled_tokens, event.max_tokens)

    @on(events.QueryPerformed)
    def _on_query_performed(self, message: events.QueryPerformed) -> None:
        event = message.event
        if self._ours(event.conversation_id):
            self.status.query_action(event.query_type, event.query)

    def _after_stream(self) -> None:
        busy = self.conversation_id is not None and self.service.is_streaming(self.conversation_id)
        self.composer.busy = busy
        if not busy:
            self.status.stream_ended()

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

    def _show_forest(self, forest: Forest) -> None:
        self.conversation_id = forest.conversation.conversation_id
        self.title = first_line(forest.conversation.title, 60) or UNTITLED
        self.query_one(ConversationList).set_active(self.conversation_id)
        self.tree.show_forest(forest)
        self._refresh_views()
        self.call_after_refresh(freeze_long_lived)

    def _close_conversation(self) -> None:
        # The next conversation continues with its settings (those shown: a deleted
        # conversation is already gone from the service).
        self._pending_settings = self._shown_settings
        self.conversation_id = None
        self.title = "Grove"
        self.query_one(ConversationList).set_active(None)
        self.tree.clear()
        self.thread.clear_thread()
        self._show_settings()

    def _schedule_refresh(self) -> None:
        """Coalesces structural updates into one refresh of tree and thread."""
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_later(self._refresh_views)

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
        self.tree.refresh_forest(forest)
        self.tree.set_current_path([n.response_id for n in path])
        self.composer.busy = self.service.is_streaming(forest.conversation.conversation_id)

    # -- widget messages ---------------------------------------------------------------------

    @on(ConversationList.OpenRequested)
    def _open_requested(self, message: ConversationList.OpenRequested) -> None:
        run_service_call(self, self.service.open(message.conversation_id))

    @on(ConversationOptions.DeleteRequested)
    def _delete_requested(self, message: ConversationOptions.DeleteRequested) -> None:
        self._confirm_delete(message.conversation_id)

    @on(ForestTree.ResponseChosen)
    def _response_chosen(self, message: ForestTree.ResponseChosen) -> None:
        if self.conversation_id is not None:
            self.service.select(self.conversation_id, message.response_id)
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

        self.app.push_screen(
            ConfirmScreen("Open this link in your browser?", clean(href), yes="Open"), answered
        )

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        forest = self.forest
        if forest is not None and self.service.is_streaming(forest.conversation.conversation_id):
            self.notify(
                "A reply is still streaming: press Esc to stop it first.", severity="warning"
            )
            return
        text = message.text
        self._pending_text = text
        self.composer.busy = True
        run_service_call(self, self._send(text))

    async def _send(self, text: str) -> None:
        try:
            forest = self.forest
            if forest is None:
                forest = await self.service.new_conversation(settings=self._pending_settings)
                # Adopt it now: the ConversationOpened event is still queued.
                self.conversation_id = forest.conversation.conversation_id
            cid = forest.conversation.conversation_id
            await self.service.send(cid, text, forest.committed_leaf)
        finally:
            self._after_stream()

    # -- actions -----------------------------------------------------------------------------

    def _target(self) -> ResponseNode | None:
        """The message the user is on: the focused one, else the leaf."""
        forest = self.forest
        if forest is None:
            return None
        rid = self.thread.focused_response_id or self._focused_response_id or forest.leaf_id
        if rid is None or rid not in forest.responses:
            rid = forest.leaf_id
        return forest.responses.get(rid) if rid else None

    def action_stop(self) -> None:
        """Stops sampling (the partial reply is kept), or leaves the composer."""
        self._count = 0
        if self.conversation_id is not None and self.service.is_streaming(self.conversation_id):
            run_service_call(self, self.service.stop_all(self.conversation_id))
            self.notify("Stopping… the partial reply is kept.", timeout=3)
        elif self.composer.has_focus:
            self.thread.focus()

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
        if index is not None:
            new_id = forest.current_path[index].response_id
            self._focused_response_id = new_id
            self.call_later(self.thread.focus_message, new_id)

    def action_resample(self) -> None:
        """Samples a new sibling of the focused model message."""
        target = self._target()
        if target is None or self.conversation_id is None:
            self.notify("Nothing to resample yet.", severity="warning")
            return
        if target.is_human or target.streaming:
            self.notify("Resample works on a finished model message.", severity="warning")
            return
        self.composer.busy = True
        cid = self.conversation_id

        async def resample() -> None:
            try:
                await self.service.resample(cid, target.response_id)
            finally:
                self._after_stream()

        run_service_call(self, resample())

    def action_count(self, digit: int) -> None:
        """Accumulates a count prefix for `R` (e.g. `8R` samples eight)."""
        self._count = min(self._count * 10 + digit, 99)
        self.notify(f"{self._count}R samples {self._count} (Esc clears)", timeout=2)

    def action_sample_many(self) -> None:
        """Opens Compare and samples N siblings in parallel (N from a count prefix, else 4)."""
        count, self._count = self._count, 0
        self.action_compare(min(count, MAX_BATCH) if count else DEFAULT_BATCH)

    def action_compare(self, samples: int = 0) -> None:
        """Opens the Compare screen on the focused model message and its siblings.

        With `samples` > 0 (the `R` key) it starts sampling that many new siblings at once.
        Picking a sample there makes it the current branch; the cursor returns to it here.
        """
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

        self.app.push_screen(
            CompareScreen(self.service, cid, target.response_id, samples=samples), picked
        )

    def action_token_view(self) -> None:
        """Opens the token view of the focused model message (Enter there branches)."""
        open_token_view(self, self._target())

    def action_token_shading(self) -> None:
        """Shades the focused model message by token probability, or back to Markdown."""
        toggle_token_shading(self, self._target())

    def action_edit(self) -> None:
        """Edits the focused message as a new branch beside it."""
        target = self._target()
        if target is None or self.conversation_id is None or target.streaming:
            self.notify("Nothing to edit.", severity="warning")
            return
        cid = self.conversation_id
        title = (
            "Edit your message (a new branch with a fresh reply)"
            if target.is_human
            else ("Replace the model's reply (a manual response beside it)")
        )

        def edited(text: str | None) -> None:
            if text is None or text == target.message:
                return

            async def edit() -> None:
                try:
                    await self.service.edit(cid, target.response_id, text)
                finally:
                    self._after_stream()

            if target.is_human:
                self.composer.busy = True
            run_service_call(self, edit())

        self.app.push_screen(EditScreen(title, target.message), edited)

    def action_copy(self) -> None:
        """Copies the focused message's text to the clipboard."""
        target = self._target()
        if target is None:
            return
        self.app.copy_to_clipboard(target.message)
        self.notify(f"Copied {len(target.message)} characters.", timeout=2)

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

        self.app.push_screen(
            PromptScreen("Rename conversation", forest.conversation.title), renamed
        )

    def action_delete_conversation(self) -> None:
        """Deletes the open conversation (after confirmation)."""
        if self.conversation_id is not None:
            self._confirm_delete(self.conversation_id)

    def _confirm_delete(self, conversation_id: str) -> None:
        sidebar = self.query_one(ConversationList)
        title = next(
            (s.title for s in sidebar.summaries if s.conversation_id == conversation_id), ""
        )

        def answered(yes: bool | None) -> None:
            if yes:
                run_service_call(self, self.service.delete(conversation_id))

        self.app.push_screen(
            ConfirmScreen(
                f"Delete {first_line(title, 50) or 'this conversation'!r}?",
                "Every branch and reply in it is removed from the server.",
                yes="Delete",
            ),
            answered,
        )

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

    # -- annotations, bookmarks, hoisting, totals ---------------------------------------------

    def _marking_target(self) -> ResponseNode | None:
        """What annotation keys act on.

        In the forest, the last response of the node under the cursor; elsewhere the
        focused message (else the leaf).
        """
        forest = self.forest
        if forest is None:
            return None
        if self.tree.has_focus:
            item = self.tree.cursor_item
            if item is not None:
                return forest.responses.get(item.last_id)
        return self._target()

    def _stored_target(self, verb: str) -> ResponseNode | None:
        """The marking target if it is stored on the server (else says why not)."""
        target = self._marking_target()
        if target is None or self.conversation_id is None:
            self.notify(f"Nothing to {verb} yet.", severity="warning", timeout=3)
            return None
        if target.streaming or target.response_id.startswith(PENDING_PREFIX):
            self.notify(
                f"Wait for the reply to be stored before you {verb} it.",
                severity="warning",
                timeout=3,
            )
            return None
        return target

    def _annotate(
        self,
        response_id: str,
        change: Callable[[Annotation], dict[str, Any]],
        said: Callable[[ResponseNode], str] | None = None,
    ) -> None:
        """Changes the annotation of `response_id` on the server, one change at a time.

        `change` gets the annotation as stored when its turn comes and returns the fields
        to set; the service publishes the updated node and the views follow it.
        """
        cid = self.conversation_id
        if cid is None:
            return

        async def annotate() -> ResponseNode | None:
            async with self._annotate_lock:
                try:
                    node = self.service.forest(cid).responses[response_id]
                except KeyError:
                    return None
                fields = change(node.annotation)
                if not fields:
                    return None
                return await self.service.annotate(cid, response_id, **fields)

        def done(node: ResponseNode | None) -> None:
            if node is not None and said is not None:
                self.notify(said(node), timeout=2)

        run_service_call(self, annotate(), done=done)

    def action_bookmark(self) -> None:
        """Bookmarks the message, or removes its bookmark."""
        target = self._stored_target("bookmark")
        if target is not None:
            self._annotate(
                target.response_id,
                lambda a: {"bookmarked": not a.bookmarked},
                lambda n: "Bookmarked." if n.bookmarked else "Bookmark removed.",
            )

    def action_rate(self, value: int) -> None:
        """Rates the message +1 or -1; the same rating again clears it."""
        target = self._stored_target("rate")
        if target is not None:
            self._annotate(
                target.response_id,
                lambda a: {"rating": 0 if a.rating == value else value},
                lambda n: {1: "Rated +1.", -1: "Rated -1."}.get(
                    n.annotation.rating, "Rating cleared."
                ),
            )

    def action_note(self) -> None:
        """Edits the note on the message (an empty note removes it)."""
        target = self._stored_target("annotate")
        if target is None:
            return
        current = target.annotation.note

        def written(note: str | None) -> None:
            if note is not None and note != current:
                self._annotate(
                    target.response_id,
                    lambda _: {"note": note},
                    lambda n: "Note saved." if n.annotation.note else "Note removed.",
                )

        who = "your message" if target.is_human else "the reply"
        self.app.push_screen(NoteScreen(f"Note on {who}", current), written)

    def action_tags(self) -> None:
        """Edits the message's tags: one line, separated by spaces or commas."""
        target = self._stored_target("tag")
        if target is None:
            return
        current = target.annotation.tags

        def typed(line: str | None) -> None:
            if line is None:
                return
            tags = parse_tags(line)
            if tags != current:
                self._annotate(
                    target.response_id,
                    lambda _: {"tags": tags},
                    lambda n: (
                        f"Tags: {format_tags(n.annotation.tags)}."
                        if n.annotation.tags
                        else "Tags removed."
                    ),
                )

        self.app.push_screen(
            PromptScreen(
                "Tags (separated by spaces or commas; empty removes them)",
                format_tags(current),
                placeholder="idea todo later",
            ),
            typed,
        )

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
        order = preorder(forest)
        responses = forest.responses
        marked = [i for i, rid in enumerate(order) if responses[rid].bookmarked]
        if not marked:
            self.notify("No bookmarks in this conversation (b bookmarks a message).", timeout=3)
            return
        position = {rid: i for i, rid in enumerate(order)}
        item = self.tree.cursor_item if self.tree.has_focus else None
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

    def _go_to(self, response_id: str) -> None:
        """Shows `response_id` in the thread with the cursor on it (and in the forest)."""
        forest = self.forest
        cid = self.conversation_id
        if forest is None or cid is None or response_id not in forest.responses:
            return
        if all(node.response_id != response_id for node in forest.current_path):
            self.service.select(cid, response_id)
        self._focused_response_id = response_id
        self._refresh_views()
        self.thread.focus_message(response_id)
        self.tree.show_response(response_id)

    def action_hoist(self) -> None:
        """Shows only the subtree under the node (the focused message's run) in the forest."""
        forest = self.forest
        if forest is None:
            return
        item = self.tree.cursor_item if self.tree.has_focus else None
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
        self.tree.display = True
        if not self.tree.hoist(response_id):
            self.notify("Nothing to hoist at.", severity="warning", timeout=3)

    def action_unhoist(self) -> None:
        """Shows the whole forest again."""
        if not self.tree.unhoist():
            self.notify("The forest is not hoisted (H hoists at a node).", timeout=3)

    def action_subtree_totals(self) -> None:
        """Shows or hides each forest node's subtree totals (responses, tokens, time)."""
        self.tree.show_totals = not self.tree.show_totals
        if self.tree.show_totals:
            self.tree.display = True

    # -- search ------------------------------------------------------------------------------

    def action_search(self) -> None:
        """Opens the search screen (with the last query); a chosen hit is jumped to."""
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
                self._focused_response_id = response_id
                self.thread.focus_message(response_id)
                self.tree.show_response(response_id)
            elif response_id is not None:
                self.notify("That response is no longer in the conversation.", timeout=3)
            self.thread.focus()

        run_service_call(self, self.service.jump_to(hit.conversation_id, response_id), done=arrived)

    def action_focus_composer(self) -> None:
        """Moves focus to the composer."""
        self.composer.focus()

    def action_toggle_sidebar(self) -> None:
        """Shows or hides the conversations sidebar."""
        sidebar = self.query_one(ConversationList)
        sidebar.display = not sidebar.display

    def action_toggle_forest(self) -> None:
        """Shows or hides the forest pane."""
        self.tree.display = not self.tree.display

    def action_help(self) -> None:
        """Shows every binding."""
        nodes = [
            self.app,
            self,
            self.thread,
            self.tree,
            self.query_one(ConversationOptions),
        ]
        self.app.push_screen(HelpScreen(binding_rows(nodes)))

    def render_title_text(self) -> Text:
        """The open conversation's title as inert text (for tests and the palette)."""
        return Text(self.title)
