"""Short conversation titles derived from the conversation path, without a model.

The heuristic keeps the content words of the first human message (falling back to the
first message of any sender), so a title says what the conversation is about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grove_explorer.server.sampler.base import PathMessage

MAX_TITLE_WORDS = 6
MAX_TITLE_CHARS = 60
UNTITLED = "New conversation"

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with about from into over under
    is are was were be been being am do does did done have has had having i me my we our you
    your he she it its they them their this that these those what which who whom whose how
    why when where can could would should will shall may might must please tell explain
    give show let lets let's just very really some any there here not no yes as up out
    hi hello hey thanks thank""".split()
)


def derive_title(path: Sequence[PathMessage]) -> str:
    """Returns a title of at most six content words for the conversation path."""
    source = next((m.text for m in path if m.sender == "human" and m.text.strip()), None)
    if source is None:
        source = next((m.text for m in path if m.text.strip()), "")
    words = [w for w in _WORD.findall(source) if w.lower() not in _STOPWORDS]
    if not words:
        words = _WORD.findall(source)
    if not words:
        return UNTITLED
    title = " ".join(_capitalise(w) for w in words[:MAX_TITLE_WORDS])
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return title


def _capitalise(word: str) -> str:
    """Capitalises a word but leaves acronyms and mixed-case names alone."""
    return word if any(c.isupper() for c in word) else word[:1].upper() + word[1:]
