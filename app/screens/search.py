"""The search screen (`/`): full-text search over every conversation, Enter jumps to a hit.

Typing runs `ConversationService.search` 200 ms after the last keystroke (Enter runs it at
once), in an exclusive worker so a newer query cancels an older one still in flight. A
query the server refuses ("sender: takes human or model…") is shown inline under the
box, never as a crash or a notification that hides the screen. Choosing a hit dismisses
the screen with it; the explorer opens the conversation and selects the response.

Hits come a page (`PAGE_SIZE`) at a time and the status line always says how many of
how many are listed ("50 of 313 hits"): reaching the last hit (↓, End, Page Down) or Ctrl+N
loads the next page, so a long result is never cut without a word.

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
from grove_explorer.client.finish import reply_marker
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

PAGE_SIZE = 50
"""Hits asked for at a time (the server's default page)."""


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
        ending = reply_marker(hit.partial, hit.finish_reason)
        if ending:
            text.append(f" · {ending}", style="italic")
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
        Binding("ctrl+n", "more", "More hits", id="search_more"),
    ]

    def __init__(self, service: ConversationService, query: str = "") -> None:
        super().__init__()
        self._service = service
        self._initial = query
        self._query = query
        self._timer: Timer | None = None
        self._hits: list[SearchHit] = []
        self._total = 0
        self._loading_more = False
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
    def total(self) -> int:
        """How many hits the shown query has in all (`hits` may hold fewer: pages)."""
        return self._total

    @property
    def status_text(self) -> str:
        """The line under the box: counts, or the refused query's sentence."""
        return str(self.query_one("#search-status", Static).content)

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
            self.workers.cancel_group(self, "search-more")
            self._show([], "", "Type to search.")
            return
        self.workers.cancel_group(self, "search-more")
        self.run_worker(
            self._search(query, focus_results), group="search", exclusive=True, exit_on_error=False
        )

    async def _search(self, query: str, focus_results: bool) -> None:
        try:
            hits = await self._service.search(query, PAGE_SIZE)
        except GroveError as error:  # shown inline: a bad query must not close the screen
            self._show_error(query, describe_error(error))
            return
        except Exception as error:  # never a traceback: say what went wrong
            log.exception("unexpected error in a search")
            self._show_error(query, describe_error(error))
            return
        self._show(list(hits), query, total=hits.total)
        if focus_results and hits:
            self.action_focus_results()

    def _status(self) -> str:
        """What is listed, of how many ("50 of 313 hits"), and how to get the rest."""
        shown, total = len(self._hits), self._total
        if not total:
            return "No matches."
        noun = "hit" if total == 1 else "hits"
        if self._loading_more:
            return f"{shown} of {total} {noun} — loading more…"
        if shown < total:
            return (
                f"{shown} of {total} {noun} — Enter jumps to the highlighted one; "
                "reaching the last one (or Ctrl+N) loads more."
            )
        return f"{total} {noun} — Enter jumps to the highlighted one."

    def _show(self, hits: list[SearchHit], query: str, status: str = "", total: int = 0) -> None:
        self._hits = hits
        self._total = max(total, len(hits))
        self._loading_more = False
        self._shown_query = query
        self._error = ""
        line = self.query_one("#search-status", Static)
        line.remove_class("-error")
        line.update(Text(status or self._status()))
        results = self.results
        results.clear_options()
        results.add_options(Option(hit_text(hit)) for hit in hits)
        if hits:
            results.highlighted = 0

    # -- more hits ---------------------------------------------------------------------------

    @property
    def has_more(self) -> bool:
        """True while hits of the shown query are not listed yet."""
        return not self._error and len(self._hits) < self._total

    def action_more(self) -> None:
        """Loads the next page of hits (nothing to do when all are listed)."""
        if not self.has_more or self._loading_more or self._shown_query is None:
            return
        self._loading_more = True
        self.query_one("#search-status", Static).update(Text(self._status()))
        query, offset = self._shown_query, len(self._hits)
        self.run_worker(
            self._more(query, offset), group="search-more", exclusive=True, exit_on_error=False
        )

    async def _more(self, query: str, offset: int) -> None:
        try:
            page = await self._service.search(query, PAGE_SIZE, offset)
        except Exception as error:  # a failed page keeps what is listed, and says why
            log.info("loading more hits failed: %s", error)
            self._loading_more = False
            if self._shown_query == query:
                line = self.query_one("#search-status", Static)
                line.update(Text(clean(f"{self._status()} {describe_error(error)}")))
            return
        self._loading_more = False
        if self._shown_query != query or len(self._hits) != offset:
            return  # a newer search replaced the list meanwhile
        self._hits.extend(page)
        self._total = max(page.total, len(self._hits)) if page else len(self._hits)
        self.results.add_options(Option(hit_text(hit)) for hit in page)
        self.query_one("#search-status", Static).update(Text(self._status()))

    @on(OptionList.OptionHighlighted, "#search-results")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Reaching the last listed hit (↓, End, Page Down, the mouse) loads the next page."""
        if event.option_index >= len(self._hits) - 1:
            self.action_more()

    def _show_error(self, query: str, sentence: str) -> None:
        self._show([], query, " ")
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
