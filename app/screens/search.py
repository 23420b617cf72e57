"""The search screen (`/`): full-text search over every conversation, Enter jumps to a hit.

Typing runs `ConversationService.search` 200 ms after the last keystroke (Enter runs it at
once), in an exclusive worker so a newer query cancels an older one still in flight. A
query the server refuses ("sender: takes human or model…") is shown inline under the
box, never as a crash or a notification that hides the screen. Choosing a hit dismisses
the screen with it; the explorer opens the conversation and selects the response.

Snippets, titles and model names are untrusted text: every line is a Rich `Text` built
from cleaned plain strings, and the matched ranges (`SearchHit.highlights`, offsets in
the snippet) are styled as spans, never by inserting markup.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from grove_explorer.app.annotation_marks import run_marks
from grove_explorer.app.errors import describe_error
from grove_explorer.app.safe_text import clean, first_line
from grove_explorer.client.errors import GroveError
from grove_explorer.client.research import SearchHit
from grove_explorer.client.service import ConversationService

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.2
"""Quiet time after a keystroke before the query is sent."""

HIGHLIGHT = Style(bold=True, color="black", bgcolor="yellow")
"""How matched ranges of a snippet are drawn."""

CHEAT_SHEET = (
    'words  "a phrase"  prefix*  OR  NOT word   filters: sender:human|model  model:NAME  '
    "tag:X  rated:+|-  bookmarked  partial"
)

FIELD_LABELS = {"message": "message", "title": "title", "tag": "tag", "note": "note"}

TITLE_WIDTH = 48


def _flat(text: str) -> str:
    """Cleaned text on one line (a snippet may span lines of the message)."""
    return clean(text).replace("\n", " ").replace("\t", " ")


def snippet_text(snippet: str, highlights: tuple[tuple[int, int], ...]) -> Text:
    """The snippet as one line of `Text`, its matched ranges styled with `HIGHLIGHT`.

    Cleaned piece by piece, so removing a control character never shifts a highlight off
    its word. Ranges outside the snippet are clipped; overlapping ones merged.
    """
    text = Text()
    position = 0
    for start, end in sorted(highlights):
        start, end = max(start, position), min(end, len(snippet))
        if end <= start:
            continue
        text.append(_flat(snippet[position:start]))
        text.append(_flat(snippet[start:end]), style=HIGHLIGHT)
        position = end
    text.append(_flat(snippet[position:]))
    return text


def sender_name(hit: SearchHit) -> str:
    """Who wrote the matched response: "You", the model's name, or "Model"."""
    if hit.sender == "human":
        return "You"
    return first_line(hit.model_name, 30) or "Model"


def hit_text(hit: SearchHit) -> Text:
    """Two lines: title · field · sender, branch k/n, markers, short id; then the snippet.

    The branch position and the id say which of several sibling replies matched (the id
    is what the thread's headers show and `grove show --leaf` accepts).
    """
    text = Text()
    text.append(first_line(hit.conversation_title, TITLE_WIDTH) or "Untitled", style="bold")
    text.append(" · ", style="dim")
    text.append(FIELD_LABELS.get(hit.field, _flat(hit.field)), style="italic cyan")
    if hit.response_id:
        text.append(" · ", style="dim")
        text.append(sender_name(hit), style="green" if hit.sender == "human" else "blue")
        k, n = hit.branch
        if n > 1:
            text.append(f" · branch {k}/{n}", style="bold")
        if hit.partial:
            text.append(" · partial", style="italic")
        marks = run_marks([hit.annotation])
        if marks:
            text.append(f" {marks}", style="bold magenta")
        text.append(f" · {_flat(hit.short_id)}", style="dim")
    else:
        text.append(" · opens the conversation", style="dim")
    text.append("\n  ")
    text.append_text(snippet_text(hit.snippet, hit.highlights))
    return text


class SearchScreen(ModalScreen[SearchHit | None]):
    """A query box, the filter cheat sheet, a status or error line and the hits."""

    DEFAULT_CSS = """
    SearchScreen {
        align: center top;
        background: $background 60%;
    }
    SearchScreen > Vertical {
        width: 110;
        max-width: 95%;
        height: 85%;
        margin-top: 2;
        border: thick $primary 70%;
        background: $surface;
        padding: 0 1;
    }
    SearchScreen #search-help {
        color: $text-muted;
        height: auto;
    }
    SearchScreen #search-status {
        height: 1;
        color: $text-muted;
    }
    SearchScreen #search-status.-error {
        color: $text-error;
        text-style: bold;
        height: auto;
    }
    SearchScreen #search-results {
        height: 1fr;
        border: none;
        padding: 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="search_close"),
        Binding("down", "focus_results", "Results", show=False),
    ]

    def __init__(self, service: ConversationService, query: str = "") -> None:
        super().__init__()
        self._service = service
        self._initial = query
        self._query = query
        self._timer: Timer | None = None
        self._hits: list[SearchHit] = []
        self._shown_query: str | None = None
        self._error = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Search every conversation", style="bold"))
            yield Input(
                self._initial, placeholder="words, filters… (Enter searches)", id="search-query"
            )
            yield Static(Text(CHEAT_SHEET), id="search-help")
            yield Static(Text("Type to search."), id="search-status")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        self.query_input.focus()
        if self._initial.strip():
            self._start(self._initial, focus_results=False)

    # -- state, for the explorer and tests ---------------------------------------------------

    @property
    def query_input(self) -> Input:
        """The query box."""
        return self.query_one("#search-query", Input)

    @property
    def results(self) -> OptionList:
        """The list of hits."""
        return self.query_one("#search-results", OptionList)

    @property
    def query_text(self) -> str:
        """The query typed (kept by the explorer for the next `/`; readable once closed)."""
        return self._query

    @property
    def hits(self) -> list[SearchHit]:
        """The hits listed, best first."""
        return list(self._hits)

    @property
    def shown_query(self) -> str | None:
        """The query whose results (or error) are shown (None before the first search)."""
        return self._shown_query

    @property
    def error(self) -> str:
        """The server's sentence for a query it refused ("" when the query is fine)."""
        return self._error

    # -- searching ---------------------------------------------------------------------------

    @on(Input.Changed, "#search-query")
    def _changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        query = self._query = event.value
        self._timer = self.set_timer(DEBOUNCE_SECONDS, lambda: self._start(query))

    @on(Input.Submitted, "#search-query")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if event.value == self._shown_query and self._hits:
            self.action_focus_results()
            return
        self._start(event.value, focus_results=True)

    def _start(self, query: str, *, focus_results: bool = False) -> None:
        """Runs the query in a worker that replaces any search still running."""
        if not query.strip():
            self.workers.cancel_group(self, "search")
            self._show([], "", "Type to search.")
            return
        self.run_worker(
            self._search(query, focus_results), group="search", exclusive=True, exit_on_error=False
        )

    async def _search(self, query: str, focus_results: bool) -> None:
        try:
            hits = await self._service.search(query)
        except GroveError as error:  # shown inline: a bad query must not close the screen
            self._show_error(query, describe_error(error))
            return
        except Exception as error:  # never a traceback: say what went wrong
            log.exception("unexpected error in a search")
            self._show_error(query, describe_error(error))
            return
        count = len(hits)
        status = f"{count} hit{'' if count == 1 else 's'}" if hits else "No matches."
        if hits:
            status += " — Enter jumps to the highlighted one."
        self._show(hits, query, status)
        if focus_results and hits:
            self.action_focus_results()

    def _show(self, hits: list[SearchHit], query: str, status: str) -> None:
        self._hits = hits
        self._shown_query = query
        self._error = ""
        line = self.query_one("#search-status", Static)
        line.remove_class("-error")
        line.update(Text(status))
        results = self.results
        results.clear_options()
        results.add_options(Option(hit_text(hit)) for hit in hits)
        if hits:
            results.highlighted = 0

    def _show_error(self, query: str, sentence: str) -> None:
        self._show([], query, "")
        self._error = sentence
        line = self.query_one("#search-status", Static)
        line.add_class("-error")
        line.update(Text(clean(sentence)))

    # -- choosing ----------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#search-results")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self._hits):
            self.dismiss(self._hits[index])

    def action_focus_results(self) -> None:
        """Moves from the query box to the hits."""
        if self._hits:
            self.results.focus()
            if self.results.highlighted is None:
                self.results.highlighted = 0

    def action_close(self) -> None:
        """Closes without jumping."""
        self.dismiss(None)
