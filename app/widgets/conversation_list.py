"""The Conversations sidebar: every conversation, starred first then newest, filterable.

Receives summaries from the screen and posts `OpenRequested` / `DeleteRequested`; it
never talks to the server itself. Relative times ("now", "5m") age on their own: a timer
redraws the labels whose age text changed (nothing else), and the screen `touch`es the
open conversation when a message is added to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from grove_explorer.app.safe_text import first_line

if TYPE_CHECKING:
    from grove_explorer.client.models import ConversationSummary

UNTITLED = "Untitled"
AGE_REFRESH_SECONDS = 15.0
"""How often relative times are brought up to date (the finest unit is a minute)."""


def sort_key(summary: ConversationSummary) -> tuple[bool, float]:
    """Starred first, then most recently updated first."""
    when = _utc(summary.update_time or summary.create_time)
    stamp = when.timestamp() if when else 0.0
    return (not summary.starred, -stamp)


def shared_words(summary: ConversationSummary) -> str:
    """The mark ' ⇄alice·r': shared with the user by its owner as a reader (r) or writer (w)."""
    if summary.role == "owner" or not summary.owner_user_id:
        return ""
    return f" ⇄{first_line(summary.owner_user_id, 10)}·{summary.role[:1]}"


def _utc(when: datetime | None) -> datetime | None:
    """`when` with a time zone (the server's times are UTC, some without a zone)."""
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max((now - when).total_seconds(), 0)
    for size, unit in (
        (86400 * 365, "y"),
        (86400 * 30, "mo"),
        (86400, "d"),
        (3600, "h"),
        (60, "m"),
    ):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "now"


class ConversationOptions(OptionList):
    """The list itself; Delete asks the screen to delete the highlighted conversation."""

    BINDINGS = [
        Binding("delete,d", "delete_highlighted", "Delete", id="delete_conversation"),
    ]

    class DeleteRequested(Message):
        """The user asked to delete a conversation (the screen confirms first)."""

        def __init__(self, conversation_id: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def action_delete_highlighted(self) -> None:
        """Requests deletion of the highlighted conversation."""
        if self.highlighted is None:
            return
        option_id = self.get_option_at_index(self.highlighted).id
        if option_id:
            self.post_message(self.DeleteRequested(option_id))


class ConversationList(Vertical):
    """Filter box plus the list of conversations."""

    DEFAULT_CSS = """
    ConversationList {
        width: 30;
        border-right: vkey $panel-lighten-2;
    }
    ConversationList > Input {
        border: none;
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    ConversationList > ConversationOptions {
        border: none;
        height: 1fr;
        background: $surface;
    }
    """

    class OpenRequested(Message):
        """The user chose a conversation to open."""

        def __init__(self, conversation_id: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._summaries: list[ConversationSummary] = []
        self._active: str | None = None
        self._ages: dict[str, str] = {}  # the age text each shown label was drawn with
        self._held = False  # another screen covers the list: options rebuilt on release
        self._stale = False  # the options changed while held
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        """The time ages are measured from (tests move it)."""

    def on_mount(self) -> None:
        self.set_interval(AGE_REFRESH_SECONDS, self.refresh_ages, name="conversation ages")

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter conversations…", id="conversation-filter")
        yield ConversationOptions(id="conversation-options")

    @property
    def options(self) -> ConversationOptions:
        """The option list widget."""
        return self.query_one(ConversationOptions)

    @property
    def summaries(self) -> list[ConversationSummary]:
        """The conversations shown (before filtering), sorted."""
        return list(self._summaries)

    def set_conversations(self, summaries: Sequence[ConversationSummary]) -> None:
        """Replaces the list (sorted starred-first, newest-first)."""
        self._summaries = sorted(summaries, key=sort_key)
        self._render_options()

    def upsert(self, summary: ConversationSummary) -> None:
        """Adds or updates one conversation; its update time never goes back.

        A summary the service sends after a reply may carry the time the server listed
        (older than a `touch` the screen made when the reply arrived).
        """
        others = []
        for known in self._summaries:
            if known.conversation_id != summary.conversation_id:
                others.append(known)
                continue
            before, after = _utc(known.update_time), _utc(summary.update_time)
            if before is not None and (after is None or before > after):
                summary = summary.model_copy(update={"update_time": before})
        self.set_conversations([*others, summary])

    def touch(self, conversation_id: str, when: datetime | None = None) -> None:
        """The conversation changed at `when` (default now): its age and place follow."""
        moment = _utc(when) or self.clock()
        for summary in self._summaries:
            if summary.conversation_id == conversation_id:
                last = _utc(summary.update_time or summary.create_time)
                if last is None or moment > last:
                    self.upsert(summary.model_copy(update={"update_time": moment}))
                return

    def hold(self) -> None:
        """Keeps the conversations up to date without drawing them.

        Another screen covers the list: the options are rebuilt once, by `release`, if
        they changed meanwhile.
        """
        self._held = True

    def release(self) -> None:
        """Draws again, catching up with what changed while held."""
        self._held = False
        if self._stale:
            self._render_options()

    def refresh_ages(self) -> None:
        """Redraws the labels whose relative time changed since they were drawn."""
        if not self.is_mounted or self._held:
            return
        options, now = self.options, self.clock()
        width = max(self.size.width, 30)
        for summary in self._summaries:
            cid = summary.conversation_id
            if cid not in self._ages:
                continue
            age = _age(summary.update_time or summary.create_time, now)
            if age != self._ages[cid]:
                options.replace_option_prompt(cid, self._label(summary, now, width))

    def remove_conversation(self, conversation_id: str) -> None:
        """Drops a deleted conversation."""
        self.set_conversations([s for s in self._summaries if s.conversation_id != conversation_id])

    def set_active(self, conversation_id: str | None) -> None:
        """Marks the open conversation."""
        self._active = conversation_id
        self._render_options()

    def _render_options(self) -> None:
        if self._held:
            self._stale = True
            return
        self._stale = False
        options = self.options
        needle = self.query_one(Input).value.strip().lower()
        now = self.clock()
        self._ages.clear()
        shown = [
            s for s in self._summaries if not needle or needle in (s.title or UNTITLED).lower()
        ]
        highlighted_id = None
        if options.highlighted is not None and options.option_count:
            highlighted_id = options.get_option_at_index(options.highlighted).id
        options.clear_options()
        options.add_options(
            [
                Option(self._label(s, now, width=max(self.size.width, 30)), id=s.conversation_id)
                for s in shown
            ]
        )
        target = highlighted_id or self._active
        for index, summary in enumerate(shown):
            if summary.conversation_id == target:
                options.highlighted = index
                break

    def _label(self, summary: ConversationSummary, now: datetime, width: int) -> Text:
        star = ("★ ", "bold yellow") if summary.starred else ("  ", "")
        active = summary.conversation_id == self._active
        shared = shared_words(summary)
        title = first_line(summary.title, max(width - 10 - len(shared), 8)) or UNTITLED
        age = self._ages[summary.conversation_id] = _age(
            summary.update_time or summary.create_time, now
        )
        return Text.assemble(
            star,
            (title, "bold" if active else ("dim italic" if not summary.title else "")),
            (shared, "cyan"),
            (f" {age}", "dim"),
        )

    @on(Input.Changed, "#conversation-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._render_options()

    @on(Input.Submitted, "#conversation-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.options.option_count:
            self.options.highlighted = self.options.highlighted or 0
            self.options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.OpenRequested(event.option.id))
