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

from collections import OrderedDict
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.markdown import Markdown as RichMarkdown
from rich.protocol import is_renderable
from rich.segment import Segment
from rich.text import Text
from textual.app import RenderResult
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RichVisual, Visual, VisualType
from textual.widget import Widget
from textual.widgets import Static

from app.safe_text import clean
from client.models import ResponseNode

SEPARATOR = " · "


def sender_label(node: ResponseNode) -> str:
    """Who wrote the message: "You", the model's name, or "Model" when it has none."""
    if node.is_human:
        return "You"
    return clean(node.model_name).strip() or "Model"


def header_text(node: ResponseNode, sibling: tuple[int, int], *, streaming: bool = False) -> Text:
    """The header line of a message, as inert `Text`.

    "branch k/n" is shown whenever the message has siblings, so a branch the user is not
    looking at never looks lost. Markers say what is unusual about the message: written
    by hand (manual), cut short (partial), shared, or a search query behind it.
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
    if node.partial:
        parts.append(("partial", "bold italic"))
    if node.shared:
        parts.append(("shared", "italic"))
    if node.query:
        parts.append((f"searching: {clean(node.query)}", "italic"))
    if not node.is_human and not streaming and node.token_count:
        unit = "token" if node.token_count == 1 else "tokens"
        parts.append((f"{node.token_count} {unit}", "dim"))
    for label, style in parts:
        header.append(SEPARATOR, style="dim")
        header.append(label, style=style)
    return header


def body_renderable(node: ResponseNode) -> RenderableType:
    """The message body: Markdown for model text, literal text for what a person typed.

    `hyperlinks=False` keeps OSC 8 escapes (whose target the text chooses) away from the
    terminal; links show as "text (url)" instead.
    """
    text = clean(node.message)
    if node.is_human:
        return Text(text)
    return markdown_renderable(text)


def markdown_renderable(text: str) -> RichMarkdown:
    """Model text as a static Rich `Markdown`; `text` must already be `clean()`ed.

    Shared by finished messages and the finished blocks of the reply being streamed, so
    both look the same. `hyperlinks=False`: see `body_renderable`.
    """
    return RichMarkdown(text, hyperlinks=False)


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
            app = self._widget.app
            console = app.console
            options = app.console_options.update(highlight=False, width=width)
            renderable = self._widget.post_render(self.source, style.rich_style)
            segments = console.render(renderable, options)
            strips = [
                Strip(line)
                for line in Segment.split_and_crop_lines(
                    segments, width, include_new_lines=False, pad=False
                )
            ]
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
            self._lines_once = _LinesOnce(self, content, lines)
        return self._lines_once


@dataclass
class _Drawn:
    """What a `MessageView` of one (node, sibling) draws: built once, kept a while."""

    node: ResponseNode
    header: Text
    body: RenderableType
    content: Group
    lines: dict[tuple[int, Style], list[Strip]] = field(default_factory=dict)


_DRAWN: OrderedDict[tuple[int, tuple[int, int]], _Drawn] = OrderedDict()
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
    key = (id(node), sibling)
    drawn = _DRAWN.get(key)
    if drawn is not None and drawn.node is node:
        _DRAWN.move_to_end(key)
        return drawn
    header = header_text(node, sibling)
    body = body_renderable(node)
    drawn = _Drawn(node, header, body, Group(header, body))
    _DRAWN[key] = drawn
    if len(_DRAWN) > DRAWN_LIMIT:
        _DRAWN.popitem(last=False)
    return drawn


class MessageView(RenderedOnce):
    """A finished message: header line and body as one renderable, built once."""

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

    def show(self, node: ResponseNode, sibling: tuple[int, int]) -> None:
        """Shows another message in this view.

        Cheaper than replacing the view: a sibling switch changes the messages below it,
        and updating views in place spares Textual removing and mounting widgets.
        """
        if node is self.node and sibling == self.sibling:
            return
        drawn = _drawn(node, sibling)
        self.node, self.sibling = node, sibling
        self.header, self.body = drawn.header, drawn.body
        self.set_class(node.is_human, "-human")
        self.set_class(not node.is_human, "-model")
        self.update(drawn.content, lines=drawn.lines)

    @property
    def response_id(self) -> str:
        """The id of the response this view shows."""
        return self.node.response_id
