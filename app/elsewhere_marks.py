"""How a response made elsewhere is marked: `⇄ bob`, or `⇄ another session`.

A reply another user (or the same user in another `grove`, a script, `grove sample`)
sampled while this app watched the conversation arrives with `made_by` set
(client/service/watching.py): the forest pane shows `⇄` among its markers and the thread
header names who. Live only — the mark is not stored, so reopening drops it.
Proto- and pydantic-free, so the forest pane (imported before the first frame) can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode

ELSEWHERE_MARK = "⇄"


def made_by_label(made_by: str) -> str:
    """`⇄ bob`, or `⇄ another session` for the user's own other session ("")."""
    who = clean(made_by).strip()[:32] or "another session"
    return f"{ELSEWHERE_MARK} {who}"


def elsewhere_label(node: ResponseNode) -> str | None:
    """The header label of a response made elsewhere (None for any other)."""
    return None if node.made_by is None else made_by_label(node.made_by)
