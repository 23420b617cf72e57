"""Model text as Rich `Markdown`, parsed by one shared markdown-it parser.

Imported on first use by `message_view` (`markdown_renderable`, `markdown_parser`):
markdown-it and Rich's Markdown (with Pygments) cost ~50 ms to import, and the first
frame of `grove` draws no model message.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.markdown import Markdown as RichMarkdown


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

    def __init__(self, markup: str, parsed: list[Token] | None = None) -> None:
        # Rich's constructor is skipped on purpose: it would build a parser.
        self.markup = markup
        self.parsed = markdown_parser().parse(markup) if parsed is None else parsed
        self.code_theme = "monokai"
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = "monokai"
