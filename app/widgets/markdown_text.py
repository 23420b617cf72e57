"""Model text as Rich `Markdown`, parsed by one shared markdown-it parser.

Imported on first use by `message_view` (`markdown_renderable`, `markdown_parser`):
markdown-it and Rich's Markdown (with Pygments) cost ~50 ms to import, and the first
frame of `grove` draws no model message.

Links are drawn as Rich draws them without hyperlinks, "text (url)", never as OSC 8
escapes. With `links=True` both parts also carry a Textual click action naming the link
by its index (`open_link(3)`): the target itself, untrusted text, is never put in an
action; the widget drawing the text looks it up in `SharedParserMarkdown.links`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown as RichMarkdown
from rich.style import Style
from rich.theme import Theme

LINK_ACTION = "open_link"
"""The action a click on a link runs on the widget that draws it, with the link's index."""

_LINK_TAG = "grove-link-"
_URL_TAG = "grove-url-"
_INSIDE_LINK = frozenset(
    {
        "text",
        "softbreak",
        "hardbreak",
        "code_inline",
        "em_open",
        "em_close",
        "strong_open",
        "strong_close",
        "s_open",
        "s_close",
        "html_inline",
    }
)
"""Tokens a link drawn clickable may hold (Rich draws their plain text); others, an
image for one, leave the link drawn by Rich as it is, not clickable."""


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """The parser Rich's `Markdown` uses (CommonMark, tables, strikethrough), built once."""
    return MarkdownIt().enable("strikethrough").enable("table")


class SharedParserMarkdown(RichMarkdown):
    """`rich.markdown.Markdown(text, hyperlinks=False)`, parsed by one shared parser.

    Rich builds a new `MarkdownIt` parser for every document, which costs more than
    parsing a message of a few hundred characters (~0.8 ms): paid by every message view
    and at every update of a streaming reply. The attributes are the ones Rich's
    constructor sets (a test compares the drawings).
    """

    def __init__(
        self, markup: str, parsed: list[Token] | None = None, *, links: bool = False
    ) -> None:
        """`links`: draw links clickable (see the module docstring)."""
        # Rich's constructor is skipped on purpose: it would build a parser.
        self.markup = markup
        self.parsed = markdown_parser().parse(markup) if parsed is None else parsed
        self.links: tuple[str, ...] = ()
        """The targets of the links drawn clickable, by the index their action names."""
        if links:
            self.parsed, self.links = _clickable_links(self.parsed)
            count = len(self.links)
            tags = [f"{kind}{k}" for kind in (_LINK_TAG, _URL_TAG) for k in range(count)]
            self.inlines = {*RichMarkdown.inlines, *tags}
        self.code_theme = "monokai"
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = "monokai"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """As Rich's, with the styles of clickable links pushed for this drawing.

        Rich's link styles plus each link's click action.
        """
        if not self.links:
            yield from super().__rich_console__(console, options)
            return
        link = console.get_style("markdown.link", default="none")
        url = console.get_style("markdown.link_url", default="none")
        styles: dict[str, Style] = {}
        for index in range(len(self.links)):
            action = Style(meta={"@click": f"{LINK_ACTION}({index})"})
            styles[f"markdown.{_LINK_TAG}{index}"] = link + action
            styles[f"markdown.{_URL_TAG}{index}"] = url + action
        console.push_theme(Theme(styles, inherit=False))
        try:  # drawn at once: the styles are pushed for this drawing only
            segments = list(super().__rich_console__(console, options))
        finally:
            console.pop_theme()
        yield from segments


def _clickable_links(tokens: list[Token]) -> tuple[list[Token], tuple[str, ...]]:
    """`tokens` with each link drawn as Rich draws it, in styles that name the link.

    A link becomes: its plain text in the style `markdown.grove-link-<k>`, " (", its
    target in `markdown.grove-url-<k>`, ")" — Rich's drawing of a link without
    hyperlinks, styles apart. The tokens given are not changed (they may be shared).
    """
    links: list[str] = []
    rewritten: list[Token] = []
    for token in tokens:
        if token.children:
            children = _rewrite_inline(token.children, links)
            if children is not token.children:
                token = token.copy(children=children)
        rewritten.append(token)
    return rewritten, tuple(links)


def _rewrite_inline(children: list[Token], links: list[str]) -> list[Token]:
    """Inline `children` with their links rewritten (the same list if none is)."""
    out: list[Token] = []
    changed = False
    index = 0
    while index < len(children):
        token = children[index]
        close = _link_close(children, index) if token.type == "link_open" else None
        if close is None:
            out.append(token)
            index += 1
            continue
        inside = children[index + 1 : close]
        k = len(links)
        links.append(str(token.attrs.get("href", "#")))
        out.extend(
            [
                Token("grove_link_open", f"{_LINK_TAG}{k}", 1),
                Token("text", "", 0, content=token.content + _plain(inside)),
                Token("grove_link_close", f"{_LINK_TAG}{k}", -1),
                Token("text", "", 0, content=" ("),
                Token("grove_url_open", f"{_URL_TAG}{k}", 1),
                Token("text", "", 0, content=links[-1]),
                Token("grove_url_close", f"{_URL_TAG}{k}", -1),
                Token("text", "", 0, content=")"),
            ]
        )
        changed = True
        index = close + 1
    return out if changed else children


def _link_close(children: list[Token], start: int) -> int | None:
    """Where the link opened at `start` closes, if all it holds can be drawn clickable."""
    for index in range(start + 1, len(children)):
        kind = children[index].type
        if kind == "link_close":
            return index
        if kind not in _INSIDE_LINK:
            return None
    return None


def _plain(tokens: Iterable[Token]) -> str:
    """The text Rich draws for a link holding `tokens` (its plain text)."""
    parts = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type == "softbreak":
            parts.append(" ")
        elif token.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)
