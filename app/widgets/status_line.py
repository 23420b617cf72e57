"""One line under the thread: what new replies use, and the state of the stream.

It always names the model and system prompt of the next reply, then the token budget,
stream speed and query actions; while the open conversation's live updates are lost and
tried again, "live: reconnecting…", and "live again" for a few seconds once they are back.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from grove_explorer.app.safe_text import clean

LIVE_AGAIN_SECONDS = 5.0
"""How long "live again" stays on the line."""


class StatusLine(Static):
    """Shows the state of the current stream; updated by the screen, a few times a second."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.model = ""
        """The model new replies use (set by the screen from the conversation's settings)."""
        self.prompt = ""
        """Their system prompt: "default", "fun", … or "raw"."""
        self.server = ""
        self.sampled = 0
        self.max_tokens = 0
        self.prompt_tokens = 0
        self.query_text = ""
        """The query action the model reported ("searching: …"), if any."""
        self.streaming = False
        self._started: float | None = None
        self._tokens = 0
        self._last_draw = 0.0
        self.live = ""
        """"reconnecting" while the watch is tried again, "again" once back, else ""."""
        self._live_timer: Timer | None = None
        self.shown = Text()
        """What the line shows now (for tests)."""

    def live_reconnecting(self) -> None:
        """The open conversation's live updates were lost; the service tries again."""
        self._set_live("reconnecting")

    def live_again(self) -> None:
        """Live updates are back: said for a few seconds."""
        self._set_live("again")
        self._live_timer = self.set_timer(LIVE_AGAIN_SECONDS, lambda: self._set_live(""))

    def _set_live(self, state: str) -> None:
        if self._live_timer is not None:
            self._live_timer.stop()
            self._live_timer = None
        if state != self.live:
            self.live = state
            self.redraw(force=True)

    def set_settings(self, model: str, prompt: str) -> None:
        """The model and system prompt new replies will use."""
        if (model, prompt) != (self.model, self.prompt):
            self.model, self.prompt = model, prompt
            self.redraw(force=True)

    def stream_started(self) -> None:
        """A reply began streaming."""
        self.streaming = True
        self._started = time.monotonic()
        self._tokens = 0
        self.sampled = 0
        self.query_text = ""
        self.redraw(force=True)

    def conversation_changed(self, streaming: bool = False) -> None:
        """Another conversation (or none) is shown: the last one's stream figures go.

        `streaming`: the new one has a reply streaming (its budget shows with the next
        update from the server).
        """
        self.sampled = self.max_tokens = self.prompt_tokens = self._tokens = 0
        self.query_text = ""
        self.streaming = streaming
        self._started = time.monotonic() if streaming else None
        self._set_live("")
        self.redraw(force=True)

    def tokens_arrived(self, count: int) -> None:
        """`count` more tokens arrived; redrawn at most ten times a second."""
        self._tokens += count
        self.redraw()

    def budget(self, prompt_tokens: int, sampled: int, max_tokens: int) -> None:
        """A budget update from the server."""
        self.prompt_tokens, self.sampled, self.max_tokens = prompt_tokens, sampled, max_tokens
        self.redraw()

    def query_action(self, query_type: str, query: str) -> None:
        """The model reported a query (e.g. a search)."""
        self.query_text = f"{query_type or 'query'}ing: {query}" if query else ""
        self.redraw(force=True)

    def stream_ended(self) -> None:
        """The stream finished (or stopped)."""
        self.streaming = False
        self.redraw(force=True)

    @property
    def tokens_per_second(self) -> float:
        """Speed of the current (or last) stream."""
        if self._started is None:
            return 0.0
        elapsed = time.monotonic() - self._started
        return self._tokens / elapsed if elapsed > 0 else 0.0

    def redraw(self, *, force: bool = False) -> None:
        """Renders the line (throttled unless forced, so tokens don't cost a paint each)."""
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        parts: list[tuple[str, str] | str] = []
        if self.model:
            parts += [("model ", "dim"), (clean(self.model), "bold"), "  "]
        if self.prompt:
            parts += [("prompt ", "dim"), (clean(self.prompt), "bold"), "  "]
        if self.max_tokens:
            parts += [("tokens ", "dim"), f"{max(self.sampled, self._tokens)}/{self.max_tokens}  "]
        if self.streaming and self._started is not None:
            parts += [("streaming ", "dim"), f"{self.tokens_per_second:,.0f} tok/s  "]
        if self.query_text:
            parts += [(clean(self.query_text), "italic")]
        if self.live:
            said = "live: reconnecting…" if self.live == "reconnecting" else "live again"
            style = "bold yellow" if self.live == "reconnecting" else "bold green"
            parts += ["  " if self.query_text else "", (said, style)]
        self.shown = Text.assemble(*parts) if parts else Text("ready", style="dim")
        self.update(self.shown)
