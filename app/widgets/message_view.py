"""One finished message of a thread, drawn as a single static Rich renderable.

Why a single renderable and not a Textual `Markdown` widget: Textual lays out every widget
on screen again at each append to the live reply. Measured with Textual 8.2, one append
cost ~620 ms with 50 earlier messages as `Markdown` widgets (each a tree of block
widgets) against ~7 ms with 50 single-renderable messages. So a finished message is one
`Static` whose content is built once (header + body in a `Group`), and rendered once per
width: Textual would render it twice, once to count its lines and once to draw them
(`RenderedOnce`).

All text shown here comes from the server or a model and is untrusted: it goes through
`clean()` and is only ever a `rich.text.Text` or `rich.markdown.Markdown` source, never a
markup string, and links are rendered without OSC 8 hyperlink escapes.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from rich.console import Group, RenderableType
from rich.protocol import is_renderable
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Span, Text
from textual.app import RenderResult
from textual.css.styles import RulesMap
from textual.message import Message
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RichVisual, Visual, VisualType
from textual.widget import Widget
from textual.widgets import Static

from grove_explorer.app.elsewhere_marks import elsewhere_label
from grove_explorer.app.fusion_marks import fused_label
from grove_explorer.app.replay_marks import replay_label
from grove_explorer.app.safe_text import StreamCleaner, clean
from grove_explorer.app.viewpoint import Viewpoint, current_viewpoint
from grove_explorer.app.widgets.judgement_badge import judgement_label, latest
from grove_explorer.client.finish import reply_marker

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from rich.markdown import Markdown as RichMarkdown

    from grove_explorer.client.models import ResponseNode, TokenInfo

SEPARATOR = " · "
SHORT_ID_LENGTH = 8
"""Id characters a header shows: enough to tell responses apart, and accepted back as a
prefix wherever an id is taken (`grove show CONV --leaf 1a2b3c4d`)."""


def short_id(response_id: str) -> str:
    """The first `SHORT_ID_LENGTH` characters of an id, cleaned (ids from files are text)."""
    return clean(response_id[:SHORT_ID_LENGTH])


def sender_label(node: ResponseNode) -> str:
    """Who wrote the message: "You", the model's name, or "Model" when it has none.

    A human message of a shared conversation that someone else sent (a writer, or the
    owner when a writer looks) is named by their user id (`app/viewpoint.py`).
    """
    if node.is_human:
        return clean(current_viewpoint().maker(node.author)).strip() or "You"
    return clean(node.model_name).strip() or "Model"


def token_count_label(count: int, node: ResponseNode) -> str:
    """'20 tokens', and the endpoint's own figure beside it when that differs.

    `count` is what was received and stored (the token view's tokens); an endpoint's
    usage may be an estimate (LiteLLM), shown as such rather than instead of it.
    """
    label = f"{count} {'token' if count == 1 else 'tokens'}"
    usage = node.reported_usage
    if usage is not None and not node.streaming and usage.completion_tokens != count:
        label += f" (endpoint reported {usage.completion_tokens})"
    return label


def header_text(node: ResponseNode, sibling: tuple[int, int], *, streaming: bool = False) -> Text:
    """The header line of a message, as inert `Text`.

    "branch k/n" is shown whenever the message has siblings, so a branch the user is not
    looking at never looks lost. Markers say what is unusual about the message: written
    by hand (manual), cut short (partial, and why: "partial: stopped by you"), ended by
    something other than the model ("cut at max tokens"), shared, or a search query. A
    stored message ends with its short id (a streaming reply has none yet), so the message
    under the cursor can be named on the command line or found again.
    """
    header = Text()
    header.append(sender_label(node), style="bold")
    parts: list[tuple[str, str]] = []
    k, n = sibling
    if n > 1:
        parts.append((f"branch {k}/{n}", "bold"))
    if node.manual and not node.is_human:
        parts.append(("manual", "italic"))
    if streaming:
        parts.append(("streaming…", "italic"))
    ending = reply_marker(node.partial, node.finish_reason)
    if ending:
        parts.append((ending, "bold italic"))
    if node.shared:
        parts.append(("shared", "italic"))
    if node.query:
        parts.append((f"searching: {clean(node.query)}", "italic"))
    maker = "" if node.is_human else current_viewpoint().maker(node.author)
    if maker:  # asked for by someone else (a writer, or the owner when a writer looks)
        parts.append((f"by {clean(maker)}", "bold cyan"))
    if node.merged_from:
        parts.append((fused_label(node), "bold magenta"))
    if node.replay_of:
        parts.append((replay_label(node), "bold cyan"))
    elsewhere = elsewhere_label(node)
    if elsewhere is not None:
        parts.append((elsewhere, "bold yellow"))
    if not node.is_human and not streaming and node.token_count:
        parts.append((token_count_label(node.token_count, node), "dim"))
    judged = latest(node)
    if judged is not None:
        parts.append((judgement_label(judged), "bold"))
    if not streaming and not node.streaming:
        parts.append((short_id(node.response_id), "dim"))
    for label, style in parts:
        header.append(SEPARATOR, style="dim")
        header.append(label, style=style)
    return header


def body_renderable(node: ResponseNode, *, links: bool = False) -> RenderableType:
    """The message body: Markdown for model text, literal text for what a person typed.

    `hyperlinks=False` keeps OSC 8 escapes (whose target the text chooses) away from the
    terminal; links show as "text (url)" instead, clickable with `links` (a click runs
    the drawing widget's `open_link` action with the link's index: `markdown_text`).
    """
    text = clean(node.message)
    if node.is_human:
        return Text(text)
    return markdown_renderable(text, links=links)


def markdown_renderable(
    text: str, parsed: list[Token] | None = None, *, links: bool = False
) -> RichMarkdown:
    """Model text as a static Rich `Markdown`; `text` must already be `clean()`ed.

    Shared by finished messages and the reply being streamed, so both look the same.
    `parsed`: the tokens of `text` when parsed already (`markdown_parser`).
    `hyperlinks=False`, `links`: see `body_renderable`.
    """
    from grove_explorer.app.widgets.markdown_text import SharedParserMarkdown

    return SharedParserMarkdown(text, parsed, links=links)


def link_targets(body: RenderableType) -> tuple[str, ...]:
    """The targets of the clickable links `body` draws, by index (none for plain text)."""
    return cast(tuple[str, ...], getattr(body, "links", ()))


def markdown_parser() -> MarkdownIt:
    """The parser Rich's `Markdown` uses (CommonMark, tables, strikethrough), built once.

    markdown-it and Rich's Markdown (which brings Pygments) are imported on first use
    (`markdown_text`): the first frame of `grove` shows no model message.
    """
    from grove_explorer.app.widgets.markdown_text import markdown_parser as shared

    return shared()


# -- token probability shading ---------------------------------------------------------------

PROBABILITY_EDGES: tuple[float, ...] = (0.1, 0.3, 0.6, 0.9)
"""Where the five probability buckets meet: p = exp(logprob) < 10 %, < 30 %, < 60 %, < 90 %,
and the rest. Bucket 0 is the least likely."""

BUCKET_LABELS: tuple[str, ...] = ("<10%", "10–30%", "30–60%", "60–90%", "≥90%")  # noqa: RUF001

SHADES: tuple[RichStyle, ...] = (
    RichStyle(color="#fff4f0", bgcolor="#a4262c"),
    RichStyle(color="#fff8f0", bgcolor="#b0581c"),
    RichStyle(color="#1e1a0c", bgcolor="#c9a43a"),
    RichStyle(color="#f2f2ea", bgcolor="#4d5542"),
    RichStyle(),
)
"""Token backgrounds by bucket: warm for unlikely tokens, none for likely ones.

Fixed colours with their own foreground, so a shaded token reads the same on a light or a
dark theme; the likeliest bucket keeps the message's own colours (most text is there)."""

GIVEN_SHADE = RichStyle(color="#d4def0", bgcolor="#2f4566", italic=True)
"""A token whose probability is unknown: a given prefix (a branch from a token)."""

CURSOR_SHADE = RichStyle(color="#000000", bgcolor="#5fd7ff", bold=True, underline=True)
"""The token under the cursor of the token view (outside the warm scale on purpose)."""


def probability_bucket(logprob: float | None) -> int | None:
    """The shading bucket of a token (0 least likely … 4), None when its logprob is unknown."""
    if logprob is None or math.isnan(logprob):
        return None
    return bisect_right(PROBABILITY_EDGES, math.exp(min(logprob, 0.0)))


def shade_style(logprob: float | None) -> RichStyle:
    """The style of a token with `logprob` (the given-prefix style when unknown)."""
    bucket = probability_bucket(logprob)
    return GIVEN_SHADE if bucket is None else SHADES[bucket]


def token_display(text: str) -> str:
    """A token as drawn: cleaned (see `clean`), tabs as four spaces (they have no width)."""
    return clean(text).replace("\t", "    ")


@dataclass(frozen=True)
class ShadedTokens:
    """A reply's tokens as one inert `Text`, each token's span styled by its bucket.

    `starts[i]` is where token i begins in `text.plain` (`starts[-1]` is its length), so
    a position maps back to its token with a bisection. Built once per reply: the token
    view draws its lines from it and the thread shows it as a message body.
    """

    text: Text
    starts: tuple[int, ...]
    styles: tuple[RichStyle, ...]

    def token_at(self, offset: int) -> int:
        """The index of the token covering character `offset` (clamped to the tokens)."""
        return max(0, min(len(self.styles) - 1, bisect_right(self.starts, offset) - 1))


def shaded_tokens(tokens: Sequence[TokenInfo]) -> ShadedTokens:
    """Builds the shaded text of `tokens` in one pass (spans, never markup)."""
    # One cleaner across tokens: a control sequence split over two tokens goes whole.
    cleaner = StreamCleaner()
    parts = [cleaner.feed(t.text).replace("\t", "    ") for t in tokens]
    if parts:
        parts[-1] += cleaner.flush().replace("\t", "    ")
    starts: list[int] = []
    styles: list[RichStyle] = []
    spans: list[Span] = []
    position = 0
    for part, token in zip(parts, tokens, strict=True):
        style = shade_style(token.logprob)
        starts.append(position)
        styles.append(style)
        if part and style:
            spans.append(Span(position, position + len(part), style))
        position += len(part)
    starts.append(position)
    text = Text("".join(parts), end="", spans=spans)
    return ShadedTokens(text, tuple(starts), tuple(styles))


def legend_text() -> Text:
    """The shading legend: one swatch per bucket, then the given-prefix style."""
    legend = Text()
    legend.append("p ", style="dim")
    for label, style in zip(BUCKET_LABELS, SHADES, strict=True):
        legend.append(f" {label} ", style=style or "reverse dim")
        legend.append(" ")
    legend.append(" given ", style=GIVEN_SHADE)
    return legend


def render_strips(
    widget: Widget, renderable: RenderableType, width: int, style: Style
) -> list[Strip]:
    """`renderable` as `widget` draws it at `width` in `style`: one `Strip` per line.

    Made exactly as Textual's `RichVisual.render_strips` makes the lines of a `Static`
    (the widget's `post_render`, the app's console), so a message drawn in pieces (the
    reply being streamed, `LiveMarkdown`) looks the same as drawn whole (`MessageView`).
    """
    app = widget.app
    options = app.console_options.update(highlight=False, width=width)
    segments = app.console.render(widget.post_render(renderable, style.rich_style), options)
    return [
        Strip(line)
        for line in Segment.split_and_crop_lines(
            segments, width, include_new_lines=False, pad=False
        )
    ]


class _LinesOnce(RichVisual):
    """A `RichVisual` that renders its lines once per (width, style) and reuses them.

    Textual measures a Rich renderable by rendering it in full (`get_height`) and then
    renders it again to draw it (`render_strips`). A `rich.markdown.Markdown` with code
    blocks costs milliseconds per render (parsing, wrapping, syntax highlighting), so
    keeping the lines of the first render halves the cost of showing a message: what the
    thread view does for every message it mounts and every finished block of a reply.
    The lines are made exactly as `RichVisual.render_strips` makes them.
    """

    LIMIT = 4
    """Renders kept per renderable: one per (width, style) seen, e.g. focused or not."""

    def __init__(
        self,
        widget: Widget,
        renderable: RenderableType,
        lines: dict[tuple[int, Style], list[Strip]] | None = None,
    ) -> None:
        """`lines` may be shared with other visuals of the same renderable."""
        super().__init__(widget, renderable)
        self.source = renderable
        """The renderable shown (what the cache is for)."""
        self._lines_by_key = {} if lines is None else lines

    def get_height(self, rules: RulesMap, width: int) -> int:
        """Lines at `width`, rendered with the style the widget will draw them with."""
        return len(self._lines(width, self._widget.visual_style))

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        """The lines at `width`, from the cache when measured or drawn before."""
        strips = self._lines(width, style)
        return strips if height is None else strips[:height]

    def _lines(self, width: int, style: Style) -> list[Strip]:
        key = (width, style)
        strips = self._lines_by_key.get(key)
        if strips is None:
            strips = render_strips(self._widget, self.source, width, style)
            if len(self._lines_by_key) >= self.LIMIT:
                self._lines_by_key.clear()
            self._lines_by_key[key] = strips
        return strips


class RenderedOnce(Static):
    """A `Static` whose Rich renderable is rendered once per width (see `_LinesOnce`).

    Strings, `Text` and Textual visuals are shown as `Static` shows them. Never parses
    markup: what is shown here is untrusted text.
    """

    def __init__(
        self,
        content: VisualType = "",
        *,
        lines: dict[tuple[int, Style], list[Strip]] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`lines` is a render cache to share with other views of the same `content`."""
        super().__init__(content, markup=False, id=id, classes=classes)
        self._lines_once: _LinesOnce | None = None
        self._shared_lines = lines

    def update(
        self,
        content: VisualType = "",
        *,
        layout: bool = True,
        lines: dict[tuple[int, Style], list[Strip]] | None = None,
    ) -> None:
        """Shows other content; `lines` as for the constructor."""
        self._shared_lines = lines
        super().update(content, layout=layout)

    def render(self) -> RenderResult:
        """The cached visual for a Rich renderable; `Static`'s for anything else."""
        content = self.content
        if isinstance(content, str | Text | Visual) or not is_renderable(content):
            return super().render()
        if self._lines_once is None or self._lines_once.source is not content:
            lines = self._shared_lines
            self._shared_lines = None  # only for the content it was given with
            # `is_renderable` said so; mypy cannot narrow through it.
            self._lines_once = _LinesOnce(self, cast(RenderableType, content), lines)
        return self._lines_once


@dataclass
class _Drawn:
    """What a `MessageView` of one (node, sibling) draws: built once, kept a while."""

    node: ResponseNode
    header: Text
    body: RenderableType
    content: Group
    lines: dict[tuple[int, Style], list[Strip]] = field(default_factory=dict)


_DRAWN: OrderedDict[tuple[int, tuple[int, int], Viewpoint], _Drawn] = OrderedDict()
"""Recently drawn messages by (id of node, sibling), least recently used first.

A sibling switch replaces the views below the switched message, and switching back (the
usual way to compare alternatives) would parse and render the same messages again: with
this cache a view of a message drawn recently costs no parsing and no rendering. Nodes are
frozen and replaced when they change, so a node's identity is its content; the entry
holds the node, so its id is not reused while cached.
"""

DRAWN_LIMIT = 256
"""Messages kept in `_DRAWN` (a few windows' worth)."""


def _drawn(node: ResponseNode, sibling: tuple[int, int]) -> _Drawn:
    """The cached drawing of `node` with `sibling`, built if not cached."""
    key = (id(node), sibling, current_viewpoint())
    drawn = _DRAWN.get(key)
    if drawn is not None and drawn.node is node:
        _DRAWN.move_to_end(key)
        return drawn
    header = header_text(node, sibling)
    body = body_renderable(node, links=True)
    drawn = _Drawn(node, header, body, Group(header, body))
    _DRAWN[key] = drawn
    if len(_DRAWN) > DRAWN_LIMIT:
        _DRAWN.popitem(last=False)
    return drawn


def prime_drawing(
    node: ResponseNode,
    sibling: tuple[int, int],
    widget: Widget,
    width: int,
    style: Style,
    body_lines: list[Strip],
) -> None:
    """Gives the drawing of `node` the lines of its body drawn already, at `width`.

    A streamed reply's widget has drawn the body exactly as a `MessageView` draws it
    (`render_strips` of the same Markdown, block by block): the finished message that
    replaces it renders only its header instead of the whole reply again (tens of
    milliseconds for a long one, in the frame the stream ends). `widget` renders the
    header (any widget of the same style).
    """
    drawn = _drawn(node, sibling)
    key = (width, style)
    if link_targets(drawn.body):
        return  # the streamed lines draw links as text only: drawn anew, clickable
    if key not in drawn.lines:
        drawn.lines[key] = render_strips(widget, drawn.header, width, style) + body_lines


class MessageView(RenderedOnce):
    """A finished message: header line and body as one renderable, built once.

    Links in a model's text are clickable: a click posts `LinkClicked` with the target
    (the thread view asks the screen, which confirms before opening anything).
    """

    class LinkClicked(Message):
        """A link drawn in this message was clicked."""

        def __init__(self, href: str) -> None:
            super().__init__()
            self.href = href

    DEFAULT_CSS = """
    MessageView {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: tall $primary 40%;
    }
    MessageView.-human {
        background: $boost;
        border-left: tall $accent 60%;
    }
    MessageView.-model {
        border-left: tall $primary 40%;
    }
    MessageView.-focused {
        background: $primary 15%;
        border-left: tall $primary;
    }
    MessageView.-human.-focused {
        border-left: tall $accent;
    }
    """

    def __init__(
        self,
        node: ResponseNode,
        sibling: tuple[int, int],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Builds the renderable now (or reuses a recent one, with its rendered lines)."""
        role = "-human" if node.is_human else "-model"
        drawn = _drawn(node, sibling)
        super().__init__(
            drawn.content,
            lines=drawn.lines,
            id=id,
            classes=f"{role} {classes}" if classes else role,
        )
        self.header: Text = drawn.header
        """The header line, as drawn."""
        self.body: RenderableType = drawn.body
        """The body renderable: `rich.markdown.Markdown` for models, `Text` for people."""
        self.node = node
        self.sibling = sibling
        self._shading: ShadedTokens | None = None

    def show(self, node: ResponseNode, sibling: tuple[int, int]) -> None:
        """Shows another message in this view.

        Cheaper than replacing the view: a sibling switch changes the messages below it,
        and updating views in place spares Textual removing and mounting widgets. Token
        shading stays on while the view shows the same response (its tokens never change,
        only its header may); another response is drawn as usual.
        """
        if node is self.node and sibling == self.sibling:
            return
        same_response = node.response_id == self.node.response_id
        self.node, self.sibling = node, sibling
        self.set_class(node.is_human, "-human")
        self.set_class(not node.is_human, "-model")
        if self._shading is not None and same_response and not node.streaming:
            self._draw_shaded(self._shading)
            return
        self._shading = None
        self.set_class(False, "-shaded")
        drawn = _drawn(node, sibling)
        self.header, self.body = drawn.header, drawn.body
        self.update(drawn.content, lines=drawn.lines)

    @property
    def shaded(self) -> bool:
        """True while the message is shown token by token, shaded by probability."""
        return self._shading is not None

    @property
    def shading(self) -> ShadedTokens | None:
        """The shaded tokens shown (None: the message is drawn as usual)."""
        return self._shading

    def shade(self, tokens: Sequence[TokenInfo] | None) -> None:
        """Shows the message as plain text with each token shaded by its probability.

        `tokens` are this response's tokens (`ConversationService.tokens`); None goes back
        to the usual drawing (Markdown for a model). Plain text because Markdown would
        move characters around (markers vanish, lines re-wrap) and tokens would no longer
        line up with what is drawn.
        """
        if tokens is None:
            if self._shading is None:
                return
            self._shading = None
            self.set_class(False, "-shaded")
            drawn = _drawn(self.node, self.sibling)
            self.header, self.body = drawn.header, drawn.body
            self.update(drawn.content, lines=drawn.lines)
            return
        self._draw_shaded(shaded_tokens(tokens))

    def _draw_shaded(self, shading: ShadedTokens) -> None:
        """Draws header, legend and the shaded tokens (built by the caller, once)."""
        self._shading = shading
        self.set_class(True, "-shaded")
        header = header_text(self.node, self.sibling)
        header.append(SEPARATOR, style="dim")
        header.append("shaded by token probability", style="italic")
        self.header, self.body = header, shading.text
        self.update(Group(header, legend_text(), shading.text))

    @property
    def response_id(self) -> str:
        """The id of the response this view shows."""
        return self.node.response_id

    def action_open_link(self, index: int) -> None:
        """A click on link `index` of the body (see `markdown_text`): posts `LinkClicked`."""
        targets = link_targets(self.body)
        if isinstance(index, int) and 0 <= index < len(targets):
            self.post_message(self.LinkClicked(targets[index]))
