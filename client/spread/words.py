"""Words of a text: as the reader sees them (diffs), and normalised (similarity).

Words are maximal runs of non-whitespace, so punctuation sticks to its word in a diff
("mat." differs from "mat"), which is what a reader comparing two samples notices. For
similarity the same words are compared case-folded and without the punctuation around
them, so "Paris." and "paris" count as one word: a period at the end of a sample is not a
difference of content. The app's diff helpers (app/diffing.py) use `words` from here.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

_EDGE_PUNCTUATION = string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026\u2014\u2013"


def words(text: str) -> list[str]:
    """The words of `text`, in order (whitespace separates them)."""
    return text.split()


def normal_word(word: str) -> str:
    """`word` case-folded, without punctuation at its ends ("" if it was all punctuation)."""
    return word.strip(_EDGE_PUNCTUATION).casefold()


def normal_words(text: str) -> list[str]:
    """The words of `text` as similarity compares them (punctuation-only words dropped)."""
    return [w for w in map(normal_word, text.split()) if w]


class Vocabulary:
    """Gives each distinct normalised word a small integer id, shared by a whole batch.

    The bit-parallel LCS and the Jaccard bitsets work on ids: comparing ints and indexing
    dicts by them is cheaper than by strings, and a bitset over ids is one Python int.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The ids of `tokens`, new words getting the next free id."""
        ids = self._ids
        return [ids.setdefault(token, len(ids)) for token in tokens]


def word_bitset(ids: Sequence[int]) -> int:
    """The set of `ids` as one int (bit k set when id k occurs)."""
    bits = 0
    for i in set(ids):
        bits |= 1 << i
    return bits
