"""Word-level comparison of sibling samples, for the Compare screen's diff mode.

Pure functions over strings, no Textual: the screen decides how to draw the result. Words
are maximal runs of non-whitespace, so punctuation sticks to its word ("mat." differs
from "mat"), which is what a reader comparing two samples notices too. Diffing works on
word lists with `difflib.SequenceMatcher`, with its "popular element" junk heuristic off:
in prose the most common words ("the", "a") are exactly the ones that must still match.
`words` is the client's (`client.spread.words`), shared with the spread statistics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Literal

from grove_explorer.client.spread.words import words

__all__ = [
    "DiffKind",
    "WordCounter",
    "common_prefix_words",
    "similarity",
    "word_diff",
    "word_spans",
    "words",
]

DiffKind = Literal["equal", "insert", "replace"]
"""How a word of the compared text relates to the reference text."""

_WORD = re.compile(r"\S+")


class WordCounter:
    """Counts the words of a text fed in pieces, as `len(words(text))` would, in O(piece).

    A word split between two pieces counts once: a piece that starts without whitespace
    continues the previous piece's last word if that one ended without whitespace.
    """

    def __init__(self) -> None:
        self.count = 0
        self._open = False
        """True when the text so far ends inside a word."""

    def feed(self, piece: str) -> int:
        """Adds `piece`; returns the words so far."""
        if piece:
            found = len(piece.split())
            if found and self._open and not piece[0].isspace():
                found -= 1
            self.count += found
            self._open = not piece[-1].isspace()
        return self.count


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each word of `text`, aligned with `words(text)`."""
    return [match.span() for match in _WORD.finditer(text)]


def common_prefix_words(texts: Sequence[str]) -> int:
    """How many leading words all `texts` share (0 for no texts).

    For a single text this is its whole length: nothing diverges from it.
    """
    if not texts:
        return 0
    lists = [words(text) for text in texts]
    limit = min(len(w) for w in lists)
    first = lists[0]
    count = 0
    while count < limit and all(w[count] == first[count] for w in lists[1:]):
        count += 1
    return count


def word_diff(reference: str, other: str) -> list[tuple[str, DiffKind]]:
    """Each word of `other`, tagged by how it departs from `reference`.

    "equal": the word is matched in the reference; "replace": it stands where the
    reference has different words; "insert": the reference has nothing there. Words only
    the reference has are not listed (the result describes what `other` shows).
    """
    ref_words = words(reference)
    other_words = words(other)
    matcher = SequenceMatcher(None, ref_words, other_words, autojunk=False)
    result: list[tuple[str, DiffKind]] = []
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag == "delete":
            continue
        kind: DiffKind = "equal" if tag == "equal" else "insert" if tag == "insert" else "replace"
        result.extend((word, kind) for word in other_words[j1:j2])
    return result


def similarity(reference: str, other: str) -> float:
    """The share of words two texts have in common, 0..1 (1 for two empty texts)."""
    matcher = SequenceMatcher(None, words(reference), words(other), autojunk=False)
    return matcher.ratio()
