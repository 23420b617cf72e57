"""One finished message of a thread, drawn as a single static Rich renderable.

Why a single renderable and not a Textual `Markdown` widget: Textual lays out every widget
on screen again at each append to the live reply. Measured with Textual 8.2, one append
cost ~620 ms with 50 earlier messages as `Markdown` widgets (each a tree of block
widgets) against ~7 ms with 50 single-renderable messages. So a finished message is one
`Static` whose content is built once (header + body in a `Group`) and cached by `Static`;
Textual only re-measures it when its width changes.

All text shown here comes from the server or a model and is untrusted: it goes through
`clean()` and is only ever a `rich.text.Text` or `rich.markdown.Markdown` source, never a
markup string, and links are rendered without OSC 8 hyperlink escapes.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
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
    return RichMarkdown(text, hyperlinks=False)


class MessageView(Static):
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
        """Builds the renderable now, so refreshes and re-layouts never rebuild it."""
        role = "-human" if node.is_human else "-model"
        header = header_text(node, sibling)
        body = body_renderable(node)
        super().__init__(
            Group(header, body),
            markup=False,
            id=id,
            classes=f"{role} {classes}" if classes else role,
        )
        self.header: Text = header
        """The header line, as drawn."""
        self.body: RenderableType = body
        """The body renderable: `rich.markdown.Markdown` for models, `Text` for people."""
        self.node = node
        self.sibling = sibling

    @property
    def response_id(self) -> str:
        """The id of the response this view shows."""
        return self.node.response_id
