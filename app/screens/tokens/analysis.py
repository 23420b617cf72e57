"""What the token view computes, apart from drawing: alternatives, statistics, wrapping.

Pure functions over `TokenInfo`, so they are tested without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import get_character_cell_size
from rich.text import Text

from grove_explorer.app.widgets.message_view import (
    PROBABILITY_EDGES,
    token_display,
)
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.streams import TokenInfo

NOT_SAMPLED = "No tokens: written, not sampled"
"""What `v` and `V` say on a message a person wrote (a human message or a manual reply)."""

UNLIKELY = PROBABILITY_EDGES[1]
"""`n`/`N` jump to the next/previous token less likely than this (30 %)."""

BAR_CELLS = 10
"""Width of a probability bar in the alternatives panel."""

_EIGHTHS = " ▏▎▍▌▋▊▉"


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
