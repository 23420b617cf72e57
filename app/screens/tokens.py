"""The token view: a model reply token by token, shaded by probability, to branch from.

`v` on a finished model message opens it. Every token of the reply is drawn in place,
its background shaded by its probability p = exp(logprob) (warm for unlikely tokens, none
for likely ones; a given prefix, whose probability is unknown, in its own style). A cursor
moves over the tokens (←/→ by token, w/b by word, PgUp/PgDn by page, Home/End, n/N to the
next unlikely token, or a click), and the panel beside lists the token's alternatives
with their probabilities. ↑/↓ choose one and Enter branches: the screen closes with a
`TokenBranch` and the explorer asks the service for a sibling reply that starts with the
text before the token plus the alternative and samples on from there (`e` edits the
alternative first).

The screen loads the tokens through `ConversationService.tokens` in a worker and never
touches gRPC. Token text is untrusted: it is cleaned and drawn as Rich `Text` built from
spans, never parsed as markup.

Long replies stay responsive: the shaded text is built once (`shaded_tokens`), and lines
are wrapped once per width. `TokenText` is a Line API widget that draws only the lines on
screen and keeps each drawn line, so moving the cursor redraws the line or two it leaves
and enters, whatever the length of the reply (its counters let tests check that).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from rich.cells import get_character_cell_size
from rich.console import Group
from rich.style import Style as RichStyle
from rich.table import Table
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Header, Static

from grove_explorer.app.errors import describe_error, error_title
from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.dialogs import PromptScreen
from grove_explorer.app.screens.help import HelpScreen, binding_rows
from grove_explorer.app.widgets.message_view import (
    BUCKET_LABELS,
    CURSOR_SHADE,
    PROBABILITY_EDGES,
    ShadedTokens,
    legend_text,
    probability_bucket,
    sender_label,
    shade_style,
    shaded_tokens,
    token_display,
)
from grove_explorer.client.errors import GroveError
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.service import ConversationService
from grove_explorer.client.streams import TokenInfo

NOT_SAMPLED = "No tokens: written, not sampled"
"""What `v` and `V` say on a message a person wrote (a human message or a manual reply)."""

UNLIKELY = PROBABILITY_EDGES[1]
"""`n`/`N` jump to the next/previous token less likely than this (30 %)."""

BAR_CELLS = 10
"""Width of a probability bar in the alternatives panel."""

_EIGHTHS = " ▏▎▍▌▋▊▉"


# -- pure helpers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenBranch:
    """The view's answer: branch at token `index`, saying `text` instead of it."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class Alternative:
    """One candidate for a token's place.

    Its text, logprob (None: unknown) and whether it is the token that was sampled.
    """

    text: str
    logprob: float | None
    chosen: bool

    @property
    def probability(self) -> float | None:
        """The probability exp(logprob), or None when unknown."""
        return None if self.logprob is None else math.exp(min(self.logprob, 0.0))


def alternatives(token: TokenInfo) -> list[Alternative]:
    """The token's alternatives, most likely first, with the sampled token marked.

    The sampled token is added when it is not among the top alternatives (a token drawn
    from the tail, or a given prefix, which has none), so the list always holds it.
    """
    seen: set[str] = set()
    listed: list[Alternative] = []
    for text, logprob in sorted(token.top, key=lambda alt: -alt[1]):
        if text in seen:
            continue
        seen.add(text)
        listed.append(Alternative(text, logprob, text == token.text))
    if token.text not in seen:
        listed.append(Alternative(token.text, token.logprob, True))
    return listed


@dataclass(frozen=True, slots=True)
class TokenStats:
    """What the view's summary says about a reply's tokens."""

    count: int
    sampled: int
    mean_logprob: float | None

    @property
    def perplexity(self) -> float | None:
        """exp(-mean logprob) over the sampled tokens."""
        return None if self.mean_logprob is None else math.exp(-self.mean_logprob)


def token_stats(tokens: Sequence[TokenInfo]) -> TokenStats:
    """Counts and the mean logprob of the tokens whose logprob is known."""
    known = [t.logprob for t in tokens if t.logprob is not None and not math.isnan(t.logprob)]
    mean = sum(known) / len(known) if known else None
    return TokenStats(len(tokens), len(known), mean)


def refusal(node: ResponseNode | None) -> str | None:
    """Why `node` has no tokens to show (None: it has, or may have)."""
    if node is None:
        return "No message here yet."
    if node.is_human or node.manual:
        return NOT_SAMPLED
    if node.streaming:
        return "This reply is still streaming: its tokens are there once it ends."
    return None


def wrap_lines(plain: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each drawn line of `plain` in a view `width` cells wide.

    Lines end at newlines (the newline itself, at `end`, is drawn as nothing) and break
    after spaces; a word wider than the view is folded. Spaces where a line breaks stay on
    the line they end (cropped if past the edge), so every character but the newlines
    lies in exactly one line and an offset maps to its line by bisection of the starts.
    """
    width = max(1, width)
    lines: list[tuple[int, int]] = []
    position = 0
    while True:
        newline = plain.find("\n", position)
        stop = len(plain) if newline < 0 else newline
        _wrap_paragraph(plain, position, stop, width, lines)
        if newline < 0:
            return lines
        position = newline + 1


def _wrap_paragraph(
    plain: str, start: int, stop: int, width: int, lines: list[tuple[int, int]]
) -> None:
    """Appends the lines of `plain[start:stop]` (no newline in it) to `lines`."""
    if start == stop:
        lines.append((start, start))
        return
    while start < stop:
        cells = 0
        position = start
        after_space = -1
        while position < stop:
            size = get_character_cell_size(plain[position])
            if cells + size > width:
                break
            cells += size
            position += 1
            if plain[position - 1] == " ":
                after_space = position
        if position >= stop:
            end = stop
        elif plain[position] == " ":
            end = position
            while end < stop and plain[end] == " ":
                end += 1
        elif after_space > start:
            end = after_space
        else:
            end = max(position, start + 1)
        lines.append((start, end))
        start = end


def visible_token(text: str) -> Text:
    """A token for the alternatives list: cleaned, with its whitespace made visible."""
    shown = Text(no_wrap=True, overflow="ellipsis", end="")
    for character in token_display(text):
        if character == " ":
            shown.append("·", style="dim")
        elif character == "\n":
            shown.append("⏎", style="dim")
        else:
            shown.append(character)
    if not shown:
        shown.append("(empty)", style="dim italic")
    return shown


def probability_bar(p: float | None) -> Text:
    """A bar of `BAR_CELLS` cells, filled in eighths."""
    if p is None:
        return Text("")
    eighths = round(max(0.0, min(1.0, p)) * BAR_CELLS * 8)
    full, rest = divmod(eighths, 8)
    return Text("█" * full + (_EIGHTHS[rest] if rest else ""), end="")


def percent(p: float | None) -> str:
    """A probability as a percentage ("?" when unknown)."""
    if p is None:
        return "?"
    if p >= 0.9995 or p == 0:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


# -- the token text --------------------------------------------------------------------------


class TokenText(ScrollView, can_focus=False, inherit_bindings=False):
    """A reply's tokens, shaded by probability, with a token cursor (Line API).

    Attributes down, messages up: the screen calls `set_tokens` and the `move_*` methods;
    the widget posts `CursorMoved` (also after a click on a token). Not focusable and
    without bindings of its own, so the screen's keys work whatever has focus.

    Counters for tests of the cost of a move: `builds` (shaded text built), `layouts`
    (lines wrapped) and `line_renders` (lines drawn from the text rather than reused).
    """

    DEFAULT_CSS = """
    TokenText {
        height: 1fr;
        width: 1fr;
        scrollbar-gutter: stable;
    }
    """

    class CursorMoved(Message):
        """The token cursor is on token `index`."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tokens: tuple[TokenInfo, ...] = ()
        self.shading: ShadedTokens | None = None
        self.cursor = 0
        self.builds = 0
        self.layouts = 0
        self.line_renders = 0
        self._width = 0
        self._lines: list[tuple[int, int]] = []
        self._line_starts: list[int] = []
        # Drawn lines without the cursor, by line number, for the widget style they used.
        self._strips: dict[int, Strip] = {}
        self._strip_style: RichStyle | None = None

    # -- state -----------------------------------------------------------------------------

    def set_tokens(self, tokens: Sequence[TokenInfo], cursor: int = 0) -> None:
        """Shows `tokens` with the cursor on token `cursor`: built once, here."""
        self.tokens = tuple(tokens)
        self.shading = shaded_tokens(self.tokens)
        self.builds += 1
        self.cursor = max(0, min(cursor, len(self.tokens) - 1))
        self._width = 0
        self._lines, self._line_starts = [], []
        self._strips.clear()
        self._layout()
        self.post_message(self.CursorMoved(self.cursor))

    @property
    def line_count(self) -> int:
        """Lines at the current width."""
        return len(self._lines)

    def token_range(self, index: int) -> tuple[int, int]:
        """Where token `index` lies in the shaded text (start, end)."""
        assert self.shading is not None
        starts = self.shading.starts
        return starts[index], starts[index + 1]

    def line_of(self, offset: int) -> int:
        """The line holding character `offset` (a newline: the line it ends)."""
        return max(0, bisect_right(self._line_starts, offset) - 1)

    def token_lines(self, index: int) -> tuple[int, int]:
        """The first and last line token `index` is drawn on."""
        start, end = self.token_range(index)
        return self.line_of(start), self.line_of(max(start, end - 1))

    def displayed_tokens(self) -> list[str]:
        """Each token's text as drawn (cleaned), in order: for tests."""
        if self.shading is None:
            return []
        plain, starts = self.shading.text.plain, self.shading.starts
        return [plain[a:b] for a, b in pairwise(starts)]

    def style_of(self, index: int) -> RichStyle:
        """The shading style of token `index` (without the cursor)."""
        assert self.shading is not None
        return self.shading.styles[index]

    # -- layout ----------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._layout()

    def _layout(self) -> None:
        """Wraps the text at the view's width (only when the width changed)."""
        width = self.scrollable_content_region.width
        if self.shading is None or width <= 0 or width == self._width:
            return
        self._width = width
        self._lines = wrap_lines(self.shading.text.plain, width)
        self._line_starts = [start for start, _ in self._lines]
        self._strips.clear()
        self.layouts += 1
        self.virtual_size = Size(width, len(self._lines))
        self._scroll_to_cursor()
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: a kept line, or the line drawn now from the text."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        rich_style = self.rich_style
        line = scroll_y + y
        if self.shading is None or not self._lines or line >= len(self._lines):
            return Strip.blank(width, rich_style)
        if rich_style != self._strip_style:
            self._strips.clear()
            self._strip_style = rich_style
        first, last = self.token_lines(self.cursor) if self.tokens else (-1, -1)
        if first <= line <= last:
            strip = self._draw(line, with_cursor=True)
        elif line in self._strips:
            strip = self._strips[line]
        else:
            strip = self._strips[line] = self._draw(line, with_cursor=False)
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style)

    def _draw(self, line: int, *, with_cursor: bool) -> Strip:
        """Draws one line from the shaded text: its tokens' spans, and the cursor."""
        assert self.shading is not None
        self.line_renders += 1
        start, end = self._lines[line]
        plain = self.shading.text.plain
        starts, styles = self.shading.starts, self.shading.styles
        spans: list[Span] = []
        index = self.shading.token_at(start)
        while index < len(styles) and starts[index] < end:
            a, b = max(starts[index], start), min(starts[index + 1], end)
            if styles[index] and b > a:
                spans.append(Span(a - start, b - start, styles[index]))
            index += 1
        text = Text(plain[start:end], end="", no_wrap=True, spans=spans)
        if with_cursor:
            text = self._with_cursor(text, start, end)
        segments = list(text.render(self.app.console))
        return Strip(segments).apply_style(self.rich_style)

    def _with_cursor(self, text: Text, start: int, end: int) -> Text:
        """`text` (the line start..end) with the cursor token marked on it.

        A newline under the cursor shows as ↵ at the end of its line, and an empty token
        as a thin bar, so the cursor is never invisible.
        """
        assert self.shading is not None
        plain = self.shading.text.plain
        a, b = self.token_range(self.cursor)
        if a == b:
            if self.line_of(a) == self.line_of_cursor_start():
                marker = Text("▏", style=CURSOR_SHADE, end="")
                return Text.assemble(text[: a - start], marker, text[a - start :], end="")
            return text
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            text.stylize(CURSOR_SHADE, lo - start, hi - start)
        if a <= end < b and end < len(plain) and plain[end] == "\n":
            text.append("↵", style=CURSOR_SHADE)
        return text

    def line_of_cursor_start(self) -> int:
        """The line the cursor token starts on."""
        return self.line_of(self.token_range(self.cursor)[0])

    # -- the cursor ------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        """Puts the cursor on token `index` (clamped): redraws the lines it left and enters."""
        if not self.tokens:
            return
        index = max(0, min(len(self.tokens) - 1, index))
        if index != self.cursor:
            old = self.token_lines(self.cursor) if self._lines else None
            self.cursor = index
            if self._lines:
                assert old is not None
                self._refresh_rows(*old)
                self._refresh_rows(*self.token_lines(index))
                self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self.cursor))

    def move_word(self, delta: int) -> None:
        """Moves to the start of the next (`delta` > 0) or previous word."""
        parts = self.displayed_tokens()
        index = self.cursor + delta
        while 0 < index < len(parts) and not _starts_word(parts, index):
            index += delta
        self.move_to(index)

    def move_page(self, delta: int) -> None:
        """Moves a page of lines down or up, to the first token of that line."""
        if not self._lines:
            return
        height = max(1, self.scrollable_content_region.height - 1)
        line = max(0, min(len(self._lines) - 1, self.line_of_cursor_start() + delta * height))
        assert self.shading is not None
        self.move_to(self.shading.token_at(self._lines[line][0]))

    def move_unlikely(self, delta: int) -> bool:
        """Moves to the next/previous token with p < `UNLIKELY`; False when there is none."""
        threshold = math.log(UNLIKELY)
        index = self.cursor + delta
        while 0 <= index < len(self.tokens):
            logprob = self.tokens[index].logprob
            if logprob is not None and logprob < threshold:
                self.move_to(index)
                return True
            index += delta
        return False

    def _refresh_rows(self, first: int, last: int) -> None:
        """Asks Textual to redraw lines first..last (virtual line numbers) only."""
        top = first - self.scroll_offset.y
        self.refresh(Region(0, top, max(self.size.width, 1), last - first + 1))

    def _scroll_to_cursor(self) -> None:
        """Scrolls just enough for the cursor token's lines to show."""
        if not self.tokens or not self._lines:
            return
        first, last = self.token_lines(self.cursor)
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif last >= top + height:
            # The token's last line at the bottom, unless that hides its first line.
            self.scroll_to(y=min(first, last - height + 1), animate=False, immediate=True)

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on the token under the mouse."""
        offset = event.get_content_offset(self)
        if offset is None or self.shading is None or not self._lines:
            return
        line = round(self.scroll_offset.y) + offset.y
        if not 0 <= line < len(self._lines):
            return
        start, end = self._lines[line]
        plain = self.shading.text.plain
        cells, position = 0, start
        while position < end:
            cells += get_character_cell_size(plain[position])
            if cells > offset.x + round(self.scroll_offset.x):
                break
            position += 1
        self.move_to(self.shading.token_at(min(position, max(start, end - 1))))


def _starts_word(parts: Sequence[str], index: int) -> bool:
    """True when token `index` begins a word: it starts with, or follows, whitespace."""
    here, before = parts[index], parts[index - 1]
    return (here[:1].isspace() and bool(here.strip())) or (
        before[-1:].isspace() and bool(here[:1]) and not here[:1].isspace()
    )


# -- the screen ------------------------------------------------------------------------------


class SidePanel(VerticalScroll, can_focus=False):
    """The alternatives panel; scrolls with the mouse only.

    Not focusable: its arrow-key bindings would shadow the screen's alternative choice.
    """


class TokenViewScreen(Screen[TokenBranch | None]):
    """One reply's tokens and their alternatives; dismisses with the branch asked for."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="tokens_close"),
        Binding("left,h", "token(-1)", "Prev token", id="tokens_prev", key_display="←/h"),
        Binding("right,l", "token(1)", "Next token", id="tokens_next", key_display="→/l"),
        Binding("up,k", "alternative(-1)", "Prev alt", id="tokens_alt_prev", key_display="↑/k"),
        Binding("down,j", "alternative(1)", "Next alt", id="tokens_alt_next", key_display="↓/j"),
        Binding(
            "enter",
            "branch",
            "Branch",
            id="tokens_branch",
            tooltip="Branch here: a new reply with the chosen alternative, sampled on",
        ),
        Binding(
            "e",
            "edit_branch",
            "Edit & branch",
            id="tokens_edit",
            tooltip="Type the text to say instead of this token, then branch",
        ),
        Binding(
            "n",
            "unlikely(1)",
            "Next unlikely",
            id="tokens_unlikely_next",
            tooltip="Next token with p < 30%",
        ),
        Binding(
            "N",
            "unlikely(-1)",
            "Prev unlikely",
            id="tokens_unlikely_prev",
            show=False,
            tooltip="Previous token with p < 30%",
        ),
        Binding("w,ctrl+right", "word(1)", "Next word", id="tokens_word_next", show=False),
        Binding("b,ctrl+left", "word(-1)", "Prev word", id="tokens_word_prev", show=False),
        Binding("pagedown", "page(1)", "Page down", id="tokens_page_down", show=False),
        Binding("pageup", "page(-1)", "Page up", id="tokens_page_up", show=False),
        Binding("home,g", "edge(-1)", "First token", id="tokens_first", show=False),
        Binding("end,G", "edge(1)", "Last token", id="tokens_last", show=False),
        Binding("question_mark", "help", "Help", id="tokens_help", show=False),
    ]

    DEFAULT_CSS = """
    TokenViewScreen #tokens-summary {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    TokenViewScreen #tokens-body {
        height: 1fr;
    }
    TokenViewScreen #tokens-text {
        padding: 0 0 0 1;
    }
    TokenViewScreen #tokens-side {
        width: 46;
        border-left: vkey $panel-lighten-2;
        padding: 0 1;
    }
    TokenViewScreen #tokens-alternatives {
        height: auto;
    }
    """

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        node: ResponseNode,
        *,
        tokens: Sequence[TokenInfo] | None = None,
    ) -> None:
        """Shows `node`'s tokens: those given, else fetched from the service."""
        super().__init__()
        self.service = service
        self.conversation_id = conversation_id
        self.node = node
        self.tokens: tuple[TokenInfo, ...] | None = None if tokens is None else tuple(tokens)
        self.alternatives: list[Alternative] = []
        self.alternative_index = 0
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text("Loading tokens…", style="dim"), id="tokens-summary")
        with Horizontal(id="tokens-body"):
            yield TokenText(id="tokens-text")
            with SidePanel(id="tokens-side"):
                yield Static("", id="tokens-alternatives")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Tokens"
        self.sub_title = sender_label(self.node)
        if self.tokens is not None:
            self._show(self.tokens)
        else:
            self.run_worker(self._load(), group="tokens", exclusive=True, exit_on_error=False)

    @property
    def text(self) -> TokenText:
        """The token text widget."""
        return self.query_one(TokenText)

    @property
    def cursor(self) -> int:
        """The token under the cursor."""
        return self.text.cursor

    async def _load(self) -> None:
        try:
            tokens = await self.service.tokens(self.conversation_id, self.node.response_id)
        except GroveError as error:
            self._fail(describe_error(error), error_title(error, "Tokens"))
            return
        except Exception as error:  # never a traceback: say what went wrong
            self._fail(describe_error(error), "Tokens")
            return
        self.tokens = tuple(tokens)
        self._show(self.tokens)

    def _fail(self, message: str, title: str) -> None:
        self.error = message
        self.notify(message, title=title, severity="error", timeout=8)
        self.query_one("#tokens-summary", Static).update(Text(clean(message), style="bold"))

    def _show(self, tokens: Sequence[TokenInfo]) -> None:
        """Draws the summary and the tokens; the cursor starts on the first sampled token."""
        self.query_one("#tokens-summary", Static).update(self._summary(tokens))
        if not tokens:
            self.query_one("#tokens-alternatives", Static).update(
                Text(
                    "No tokens are stored for this reply (it was sampled without logprobs, "
                    "or before tokens were kept).",
                    style="italic",
                )
            )
            return
        first = next((i for i, t in enumerate(tokens) if t.logprob is not None), 0)
        self.text.set_tokens(tokens, first)

    def _summary(self, tokens: Sequence[TokenInfo]) -> Text:
        """Model, token count, mean logprob and perplexity; then the shading legend."""
        stats = token_stats(tokens)
        summary = Text()
        summary.append(sender_label(self.node), style="bold")
        unit = "token" if stats.count == 1 else "tokens"
        parts = [f"{stats.count} {unit}"]
        if stats.sampled < stats.count:
            parts[0] += f" ({stats.count - stats.sampled} given)"
        if stats.mean_logprob is not None:
            parts.append(f"mean logprob {stats.mean_logprob:.3f}")
            assert stats.perplexity is not None
            parts.append(f"perplexity {stats.perplexity:.2f}")
        if self.node.prefix_length:
            parts.append(f"first {self.node.prefix_length} characters given, not sampled")
        if self.node.partial:
            parts.append("partial")
        if tokens and "".join(t.text for t in tokens) != self.node.message:
            parts.append("the tokens do not spell the stored text exactly")
        for part in parts:
            summary.append(" · ", style="dim")
            summary.append(part)
        summary.append("\n")
        summary.append_text(legend_text())
        summary.append(" ")
        summary.append(" cursor ", style=CURSOR_SHADE)
        summary.rstrip()
        return summary

    # -- the alternatives panel ------------------------------------------------------------

    def on_token_text_cursor_moved(self, message: TokenText.CursorMoved) -> None:
        """The cursor moved: list that token's alternatives, the sampled one selected."""
        if self.tokens is None or not self.tokens:
            return
        token = self.tokens[message.index]
        self.alternatives = alternatives(token)
        self.alternative_index = next(
            (i for i, alt in enumerate(self.alternatives) if alt.chosen), 0
        )
        self._draw_panel()

    def _draw_panel(self) -> None:
        if not self.tokens:
            return
        index = self.cursor
        token = self.tokens[index]
        panel = Text()
        panel.append(f"Token {index + 1} of {len(self.tokens)}", style="bold")
        bucket = probability_bucket(token.logprob)
        panel.append("\n")
        if bucket is None:
            panel.append(" given ", style=shade_style(None))
            panel.append(" prefix: not sampled, no probability", style="italic")
        else:
            p = math.exp(min(token.logprob or 0.0, 0.0))
            swatch = shade_style(token.logprob) or "reverse"
            panel.append(f" {BUCKET_LABELS[bucket]} ", style=swatch)
            panel.append(f" p {percent(p)} · logprob {token.logprob:.3f}")
        panel.append("\n\n")
        panel.append("Alternatives", style="bold")
        panel.append("  ● sampled", style="dim")
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=2, no_wrap=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True, width=6)
        table.add_column(width=BAR_CELLS, no_wrap=True)
        for position, alt in enumerate(self.alternatives):
            selected = position == self.alternative_index
            marker = ("▸" if selected else " ") + ("●" if alt.chosen else " ")
            table.add_row(
                Text(marker),
                visible_token(alt.text),
                Text(percent(alt.probability)),
                probability_bar(alt.probability),
                style=CURSOR_SHADE if selected else None,
            )
        preview = self._preview()
        footer = Text()
        footer.append("\nNew reply starts with\n", style="bold")
        footer.append_text(preview)
        footer.append("\n\n")
        footer.append("Enter branches · e edits · ↑/↓ choose", style="dim")
        self.query_one("#tokens-alternatives", Static).update(Group(panel, table, footer))

    def _preview(self) -> Text:
        """The end of the text before the cursor token, then the selected alternative."""
        preview = Text(end="")
        text = self.text
        if text.shading is None or not self.alternatives:
            return preview
        start, _ = text.token_range(self.cursor)
        before = text.shading.text.plain[max(0, start - 60) : start].replace("\n", "⏎")
        if start > 60:
            preview.append("…", style="dim")
        preview.append(before)
        alt = self.alternatives[self.alternative_index]
        preview.append(token_display(alt.text).replace("\n", "⏎"), style=CURSOR_SHADE)
        preview.append(" …", style="dim")
        return preview

    @property
    def selected(self) -> Alternative | None:
        """The alternative Enter would branch with."""
        if not self.alternatives:
            return None
        return self.alternatives[self.alternative_index]

    # -- actions ---------------------------------------------------------------------------

    def action_close(self) -> None:
        """Closes the view without branching."""
        self.dismiss(None)

    def action_token(self, delta: int) -> None:
        """Moves the cursor to the previous/next token."""
        self.text.move_to(self.cursor + delta)

    def action_word(self, delta: int) -> None:
        """Moves the cursor to the previous/next word."""
        self.text.move_word(delta)

    def action_page(self, delta: int) -> None:
        """Moves the cursor a page of lines up or down."""
        self.text.move_page(delta)

    def action_edge(self, side: int) -> None:
        """Moves the cursor to the first (-1) or last (1) token."""
        self.text.move_to(0 if side < 0 else len(self.text.tokens) - 1)

    def action_unlikely(self, delta: int) -> None:
        """Moves to the next/previous token with p < 30 %."""
        if not self.text.move_unlikely(delta):
            where = "after" if delta > 0 else "before"
            self.notify(f"No token below {UNLIKELY:.0%} {where} this one.", timeout=2)

    def action_alternative(self, delta: int) -> None:
        """Selects the previous/next alternative of the cursor token."""
        if not self.alternatives:
            return
        index = max(0, min(len(self.alternatives) - 1, self.alternative_index + delta))
        if index != self.alternative_index:
            self.alternative_index = index
            self._draw_panel()

    def action_branch(self) -> None:
        """Branches with the selected alternative at the cursor token."""
        alt = self.selected
        if alt is None:
            return
        self.dismiss(TokenBranch(self.cursor, alt.text))

    def action_edit_branch(self) -> None:
        """Asks for the text to say instead of the cursor token, then branches with it.

        The prompt starts with the selected alternative.
        """
        if not self.tokens:
            return
        alt = self.selected
        index = self.cursor

        def typed(value: str | None) -> None:
            if value is not None:
                self.dismiss(TokenBranch(index, value))

        self.app.push_screen(
            PromptScreen(
                f"Say this instead of token {index + 1} (then sampling goes on)",
                clean(alt.text) if alt is not None else "",
            ),
            typed,
        )

    def action_help(self) -> None:
        """Shows this screen's keys."""
        self.app.push_screen(HelpScreen(binding_rows([self.app, self])))
