"""One sample of the Compare screen: a header of facts and the sample's text, in a column.

Why plain text while streaming: Textual lays out the whole screen again whenever a
widget's content changes size, and re-rendering a growing Markdown document per token in
eight columns at once would starve the event loop that also reads the gRPC streams. So a
streaming column only queues what arrives (`append`, O(1)); the screen calls `flush` on
one timer for all dirty columns. The live text is drawn by `LiveText`
(`app.widgets.live_lines`): fixed height, lines wrapped once, only changed rows
repainted, no layout pass. The header is drawn by `HeaderLines`, one row per fact line,
so a new token count repaints one row. The text is joined only when read (`text`), the
word count is kept incrementally, and the placeholder node is not copied per flush. A
finished sample is drawn once as a single `rich.markdown.Markdown` renderable (one layout
pass), or, in diff mode, as a `Text` with diff styles.

All text is untrusted: it goes through `clean()` and is only ever `Text` or a Markdown
source, never markup, and links are rendered without OSC 8 hyperlink escapes.
"""

from __future__ import annotations

from typing import Protocol

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from grove_explorer.app.diffing import DiffKind, WordCounter, word_spans, words
from grove_explorer.app.fusion_marks import fused_count
from grove_explorer.app.safe_text import StreamCleaner, clean
from grove_explorer.app.widgets.judgement_badge import judgement_badge
from grove_explorer.app.widgets.live_lines import HeaderLines, LiveText
from grove_explorer.app.widgets.message_view import (
    RenderedOnce,
    body_renderable,
    token_count_label,
)
from grove_explorer.client.finish import reply_marker
from grove_explorer.client.models import ResponseNode

SEPARATOR = " · "
MARKER = "┊"
"""Drawn where the visible samples first diverge (after their common word prefix)."""

PREFIX_STYLE = "dim underline"
MARKER_STYLE = "bold magenta"
DIFF_STYLES: dict[DiffKind, str] = {
    "equal": "",
    "insert": "bold green",
    "replace": "bold yellow",
}


def _number(value: float) -> str:
    """A compact number: the server stores float32, so 0.8 comes back as 0.800000011…."""
    return f"{value:.3g}"


class _Sampling(Protocol):
    """What both `SamplingParams` (SDK) and `SamplingInfo` (models) provide."""

    @property
    def temperature(self) -> float | None: ...
    @property
    def top_p(self) -> float | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def seed(self) -> int | None: ...


def sampling_parts(sampling: _Sampling, seed_suffix: str = "") -> list[str]:
    """Short labels of the parameters that are set ("T 0.8", "top_p 0.95", …)."""
    parts = []
    if sampling.temperature is not None:
        parts.append(f"T {_number(sampling.temperature)}")
    if sampling.top_p is not None:
        parts.append(f"top_p {_number(sampling.top_p)}")
    if sampling.max_tokens is not None:
        parts.append(f"max {sampling.max_tokens}")
    if sampling.seed is not None:
        parts.append(f"seed {sampling.seed}{seed_suffix}")
    return parts


def column_header(
    node: ResponseNode,
    sibling: tuple[int, int],
    *,
    streaming: bool = False,
    tokens: int = 0,
    words: int | None = None,
    reference: bool = False,
    same: float | None = None,
    model_colour: str | None = None,
) -> Text:
    """The facts heading a sample's column, as inert `Text` (one fact group a line).

    Lines: "k/n · sender · model"; length and markers; sampling parameters (when the
    server recorded them); timings and mean logprob (when known); in diff mode, how the
    sample relates to the reference. `tokens` counts tokens streamed so far, `words` the
    words of the text so far (None: those of `node.message`). The model's name is drawn
    in `model_colour` (its colour in a multi-model batch), else dim.
    """
    header = Text(no_wrap=False)
    k, n = sibling
    header.append(f"{k}/{n}", style="bold")
    header.append(SEPARATOR, style="dim")
    header.append("manual" if node.manual else "model", style="italic" if node.manual else "")
    model = clean(node.model_name).strip()
    if model:
        header.append(SEPARATOR, style="dim")
        header.append(model, style=f"bold {model_colour}" if model_colour else "dim")
    if node.merged_from:
        header.append(SEPARATOR, style="dim")
        header.append(fused_count(node), style="bold magenta")

    header.append("\n")
    word_count = node.word_count if words is None else words
    header.append(f"{word_count} {'word' if word_count == 1 else 'words'}")
    token_count = tokens if streaming else node.token_count
    if token_count:
        header.append(SEPARATOR, style="dim")
        header.append(
            token_count_label(token_count, node)
            if not streaming
            else f"{token_count} {'token' if token_count == 1 else 'tokens'}"
        )
    if streaming:
        header.append(SEPARATOR, style="dim")
        header.append("streaming…", style="italic")
    ending = reply_marker(node.partial, node.finish_reason)
    if ending:
        header.append(SEPARATOR, style="dim")
        header.append(ending, style="bold italic")

    sampling = node.sampling
    if sampling is not None:
        parts = sampling_parts(sampling)
        if parts:
            header.append("\n")
            header.append(SEPARATOR.join(parts), style="dim")

    timing = []
    if not streaming and node.time_to_first_token > 0:
        timing.append(f"TTFT {node.time_to_first_token:.2f}s")
    speed = None if streaming else node.tokens_per_second
    if speed is not None:
        timing.append(f"{speed:.0f} tok/s")
    if node.mean_logprob is not None:
        timing.append(f"logprob {node.mean_logprob:.2f}")
    if timing:
        header.append("\n")
        header.append(SEPARATOR.join(timing), style="dim")

    badge = judgement_badge(node)
    if badge is not None:
        header.append("\n")
        header.append_text(badge)

    if reference:
        header.append("\n")
        header.append("reference", style="bold reverse")
    elif same is not None:
        header.append("\n")
        header.append(f"{same:.0%} same words as the reference", style="italic")
    return header


def diff_text(
    text: str, diff: list[tuple[str, DiffKind]] | None, prefix: int, *, marker: bool
) -> Text:
    """`text` (cleaned) with diff styles per word, its common prefix and a divergence marker.

    `diff` comes from `word_diff(reference, text)` on cleaned texts (None: no reference,
    so no word is highlighted). The first `prefix` words are shared by every visible
    sample and drawn dim and underlined; with `marker`, `MARKER` stands right before the
    first word after them (or after the last word, if this sample ends inside the prefix).
    Whitespace and line breaks are kept as they are, so the text still reads as written.
    """
    cleaned = clean(text)
    spans = word_spans(cleaned)
    if diff is not None and [w for w, _ in diff] != words(cleaned):
        raise ValueError("the diff does not describe this text")
    out = Text()
    position = 0
    for index, (start, end) in enumerate(spans):
        out.append(cleaned[position:start])
        if marker and index == prefix:
            out.append(MARKER, style=MARKER_STYLE)
        if index < prefix:
            style = PREFIX_STYLE
        elif diff is not None:
            style = DIFF_STYLES[diff[index][1]]
        else:
            style = ""
        out.append(cleaned[start:end], style=style)
        position = end
    if marker and prefix >= len(spans):
        out.append(MARKER, style=MARKER_STYLE)
    out.append(cleaned[position:])
    return out


class SampleColumn(Vertical):
    """A sibling sample in a fixed-width column: header, then its text.

    The screen drives it: `append`/`flush` while streaming, `complete` when the stored
    response arrives, `show_markdown`/`show_diff` to choose how finished text is drawn,
    `mark_model` to mark it with its model's colour (a thick left edge, the name as the
    border's title and in the header), so a multi-model batch reads at a glance.
    """

    DEFAULT_CSS = """
    SampleColumn {
        width: 44;
        height: auto;
        padding: 0 1;
        margin: 0 1 1 0;
        border: round $panel-lighten-2;
    }
    SampleColumn.-streaming {
        border: round $secondary;
    }
    SampleColumn.-partial {
        border: round $warning 70%;
    }
    SampleColumn.-focused {
        border: double $accent;
        background: $boost;
    }
    SampleColumn > .sample-header {
        height: auto;
        border-bottom: solid $panel-lighten-2;
    }
    SampleColumn > .sample-body {
        height: auto;
    }
    """

    def __init__(self, node: ResponseNode, sibling: tuple[int, int]) -> None:
        super().__init__(classes="-model")
        self.node = node
        self.sibling = sibling
        self.streaming = node.streaming
        self.tokens = 0
        self.reference = False
        self.same: float | None = None
        self.model_colour: str | None = None
        """The colour of the sample's model (None: not marked)."""
        self._marked_name = ""
        self.diff: list[tuple[str, DiffKind]] | None = None
        """The word diff against the reference, while diff mode draws this column."""
        self._streamed: list[str] = [clean(node.message)]
        """The cleaned text streamed so far, in pieces (joined only when read)."""
        self._words = WordCounter()
        self._words.feed(self._streamed[0])
        self._pending: list[str] = []
        self._cleaner = StreamCleaner()  # a control sequence split between fragments
        self.header: Text = self._header_text()
        """The header as drawn."""
        self._header = HeaderLines(self.header, classes="sample-header")
        self._finished: RenderableType | None = None if self.streaming else self._finished_body()
        # A finished sample's Markdown is rendered once for its height and its lines.
        self._body = RenderedOnce("", classes="sample-body")
        if self._finished is not None:
            self._set_body(self._finished)
        self._undrawn = False
        self._live_view = LiveText(self._streamed[0], classes="sample-live")
        """Draws the text while streaming (the body Static is hidden until `complete`)."""
        self._body.display = not self.streaming
        self._live_view.display = self.streaming
        self._sync_classes()

    # -- state -------------------------------------------------------------------------------

    @property
    def response_id(self) -> str:
        """The id of the sample (a "pending:N" placeholder id while streaming)."""
        return self.node.response_id

    @property
    def text(self) -> str:
        """The sample's text so far (streamed text includes fragments not yet drawn)."""
        if self.streaming:
            return self._streamed_text() + clean("".join(self._pending))
        return self.node.message

    def _streamed_text(self) -> str:
        if len(self._streamed) > 1:
            self._streamed[:] = ["".join(self._streamed)]
        return self._streamed[0]

    @property
    def body(self) -> RenderableType:
        """What the body draws now: live `Text` (built when read), Markdown or diff `Text`."""
        if self.streaming:
            return Text(self._streamed_text())
        return self._finished if self._finished is not None else self._finished_body()

    @property
    def undrawn(self) -> bool:
        """Finished, but still showing its live text until `draw_finished` (out of view)."""
        return self._undrawn

    @property
    def has_pending(self) -> bool:
        """True when appended text waits for the next `flush`."""
        return bool(self._pending)

    def compose(self) -> ComposeResult:
        yield self._header
        yield self._body
        yield self._live_view

    def _finished_body(self) -> RenderableType:
        if not self.node.message.strip():
            return Text("(empty)", style="dim italic")
        return body_renderable(self.node)

    def _header_text(self) -> Text:
        return column_header(
            self.node,
            self.sibling,
            streaming=self.streaming,
            tokens=self.tokens,
            words=self._words.count if self.streaming else None,
            reference=self.reference,
            same=self.same,
            model_colour=self.model_colour,
        )

    def _sync_classes(self) -> None:
        self.set_class(self.streaming, "-streaming")
        self.set_class(self.node.partial, "-partial")
        self.set_class(self.node.manual, "-manual")

    def _set_body(self, renderable: RenderableType) -> None:
        self._finished = renderable
        self._body.update(renderable)

    def refresh_header(self) -> None:
        """Redraws the header's changed lines (no layout while their heights stay)."""
        self.header = self._header_text()
        self._header.show(self.header)

    def mark_model(self, colour: str) -> None:
        """Marks the column with its model's colour: left edge, border title, header name.

        Inline styles (not a class per colour) because the palette is the screen's; the
        focus and streaming borders still draw the other three edges.
        """
        name = clean(self.node.model_name).strip()
        if (colour, name) == (self.model_colour, self._marked_name):
            return
        self.model_colour = colour
        self._marked_name = name
        self.styles.border_left = ("thick", colour)
        self.border_title = Text(f" {name} ", style=f"bold #000000 on {colour}") if name else None
        self.refresh_header()

    def set_sibling(self, sibling: tuple[int, int]) -> None:
        """Updates "k/n" (siblings are added while the screen is open)."""
        if sibling != self.sibling:
            self.sibling = sibling
            self.refresh_header()

    # -- streaming ---------------------------------------------------------------------------

    def append(self, fragment: str, tokens: int) -> None:
        """Queues streamed text; drawn at the next `flush`. O(1), no layout work."""
        if self.streaming and fragment:
            self._pending.append(fragment)
        self.tokens += tokens

    def flush(self) -> None:
        """Draws the text queued since the last flush (one content update)."""
        if not self.streaming or not self._pending:
            return
        fragment = self._cleaner.feed("".join(self._pending))
        self._pending.clear()
        self._streamed.append(fragment)
        self._words.feed(fragment)
        self._live_view.append(fragment)
        self.refresh_header()

    def complete(self, node: ResponseNode, *, draw: bool = True) -> None:
        """The stored response replaced the placeholder: draw it finished, as Markdown.

        With `draw` False (the column is out of view) the Markdown is neither built nor
        laid out yet: when a batch of 16 ends, rendering every body in one layout would
        hold up the screen for a long frame. `draw_finished` does it once it is seen.
        """
        self.node = node
        self.streaming = False
        self._pending.clear()
        self._sync_classes()
        self.diff = None
        self._finished = None
        self._undrawn = True
        self.refresh_header()
        if draw:
            self.draw_finished()

    def draw_finished(self) -> None:
        """Shows the finished body (Markdown, or the diff set meanwhile) instead of live text."""
        if not self._undrawn:
            return
        self._undrawn = False
        if self._finished is None:
            self._set_body(self._finished_body())
        self._body.display = True
        self._live_view.display = False

    def update_node(self, node: ResponseNode) -> None:
        """A stored response changed (e.g. shared); redraws the header only."""
        self.node = node
        self._sync_classes()
        self.refresh_header()

    # -- finished drawing --------------------------------------------------------------------

    def show_markdown(self) -> None:
        """Draws the finished text as Markdown (diff mode off)."""
        was_diff = self.diff is not None or self.reference or self.same is not None
        self.reference = False
        self.same = None
        self.diff = None
        if was_diff:
            self.refresh_header()
            if self._undrawn:
                self._finished = None  # built when drawn
            elif not self.streaming:
                self._set_body(self._finished_body())

    def show_diff(
        self,
        diff: list[tuple[str, DiffKind]] | None,
        prefix: int,
        *,
        marker: bool,
        reference: bool,
        same: float | None,
    ) -> None:
        """Draws the finished text with diff styles (see `diff_text`)."""
        self.reference = reference
        self.same = same
        self.refresh_header()
        if self.streaming:
            return
        self.diff = diff
        self._set_body(diff_text(self.node.message, diff, prefix, marker=marker))
