"""How annotations (bookmark, rating, tags, note) look, shared by the tree and the thread.

One place for the glyphs so the forest's labels, the thread's headers, search results and
the help screen's legend agree. The glyphs are single-cell characters from the Latin-1 and
geometric-shape ranges that terminal fonts carry, distinct from the tree's other markers
(`✎` already means "written by hand").

Everything built here is a `rich.text.Text` assembled from plain strings: tags and notes
are user text and are never parsed as markup; `clean()` strips control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:
    from grove_explorer.client.research import Annotation

BOOKMARK_MARK = "⚑"
RATED_UP_MARK = "▲"
RATED_DOWN_MARK = "▼"
NOTE_MARK = "¶"
TAG_MARK = "#"

NOTE_LINES = 6
"""Lines of a note shown under a message's header (the rest is cut with "…")."""

SEPARATOR = " · "

LEGEND: dict[str, str] = {
    BOOKMARK_MARK: "bookmarked (] / [ jump between bookmarks)",
    RATED_UP_MARK: "rated +1",
    RATED_DOWN_MARK: "rated -1",
    f"{TAG_MARK}N": "N tags (the thread lists them)",
    NOTE_MARK: "has a note (shown under the message's header)",
}
"""What the annotation glyphs mean, for the help screen."""

_TAG_SPLIT = re.compile(r"[\s,]+")


def run_marks(annotations: Iterable[Annotation]) -> str:
    """Compact markers for a tree node standing for several responses: "⚑▲#2¶".

    A marker shows when any of the responses carries it; the tag count is of distinct
    tags across them.
    """
    bookmarked = up = down = noted = False
    tags: set[str] = set()
    for annotation in annotations:
        if annotation.empty:
            continue
        bookmarked = bookmarked or annotation.bookmarked
        up = up or annotation.rating > 0
        down = down or annotation.rating < 0
        noted = noted or bool(annotation.note.strip())
        tags.update(annotation.tags)
    marks = ""
    if bookmarked:
        marks += BOOKMARK_MARK
    if up:
        marks += RATED_UP_MARK
    if down:
        marks += RATED_DOWN_MARK
    if tags:
        marks += f"{TAG_MARK}{len(tags)}"
    if noted:
        marks += NOTE_MARK
    return marks


def header_marks(annotation: Annotation, by: str = "") -> Text:
    """What a message's header adds: " · ⚑ bookmarked · ▲ +1 · #idea #later" (or nothing).

    `by`: who set the marks when it is not the user looking (`setter_of`), " · by bob" —
    in a shared conversation the marks may be a colleague's.
    """
    text = Text()
    parts: list[tuple[str, str]] = []
    if annotation.bookmarked:
        parts.append((f"{BOOKMARK_MARK} bookmarked", "bold"))
    if annotation.rating > 0:
        parts.append((f"{RATED_UP_MARK} +1", "bold green"))
    elif annotation.rating < 0:
        parts.append((f"{RATED_DOWN_MARK} -1", "bold red"))
    if annotation.tags:
        parts.append((" ".join(f"{TAG_MARK}{clean(tag)}" for tag in annotation.tags), "italic"))
    if by and (parts or annotation.note.strip()):
        parts.append((f"by {clean(by).strip()[:32]}", "dim"))
    for label, style in parts:
        text.append(SEPARATOR, style="dim")
        text.append(label, style=style)
    return text


def setter_of(annotation: Annotation) -> str:
    """Who set the marks, to name: "" for the user looking (or when the server did not say).

    The app's viewpoint decides (app/viewpoint.py): a writer's own marks are theirs, the
    owner's are "alice" to the writer.
    """
    from grove_explorer.app.viewpoint import current_viewpoint

    return current_viewpoint().maker(annotation.set_by) if annotation.set_by else ""


def annotation_lines(annotation: Annotation, by: str = "") -> list[str]:
    """The marks as plain lines (`grove show`): "⚑ bookmarked · #moss · by bob", "¶ note"."""
    if annotation.empty:
        return []
    marks = header_marks(annotation, by).plain.removeprefix(SEPARATOR)
    note = note_text(annotation.note)
    return [line for line in (marks, note.plain if note else "") if line]


def note_text(note: str, lines: int = NOTE_LINES) -> Text | None:
    """The note as a dim "¶ …" block under the header, at most `lines` lines; None if blank."""
    cleaned = clean(note).strip()
    if not cleaned:
        return None
    rows = cleaned.split("\n")
    if len(rows) > lines:
        rows = [*rows[:lines], "…"]
    return Text(f"{NOTE_MARK} " + "\n  ".join(rows), style="dim italic")


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags typed in one line: separated by spaces or commas, a leading "#" dropped.

    Duplicates are dropped (first one kept). The server checks what is left (length,
    count) and says what is wrong; nothing is silently cut here.
    """
    tags: list[str] = []
    for word in _TAG_SPLIT.split(text):
        tag = word.lstrip(TAG_MARK)
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def format_tags(tags: Iterable[str]) -> str:
    """Tags as the tag editor shows them (the inverse of `parse_tags`)."""
    return " ".join(tags)
