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
    from grove_explorer.client.events import DeletedElsewhere
    from grove_explorer.client.models import ResponseNode

ELSEWHERE_MARK = "⇄"


def made_by_label(made_by: str) -> str:
    """`⇄ bob`, or `⇄ another session` for the user's own other session ("")."""
    who = clean(made_by).strip()[:32] or "another session"
    return f"{ELSEWHERE_MARK} {who}"


def elsewhere_label(node: ResponseNode) -> str | None:
    """The header label of a response made elsewhere (None for any other)."""
    return None if node.made_by is None else made_by_label(node.made_by)


def deleted_notice(title: str, event: DeletedElsewhere) -> tuple[str, str]:
    """The notice (message, heading) of an open conversation gone elsewhere.

    Seen live, the deletion names who did it. Found by a watch begun again (after the
    server was away) or ended by the server, nobody is named; and for a conversation shared
    with the user the server answers a revoked share as a deletion, so the sentence says
    the share was revoked (or the conversation deleted) by its owner.
    """
    if event.unshared:
        who = clean(event.by).strip()[:32] or "its owner"
        return (
            f"{title} is no longer shared with you: {who} revoked your access or deleted "
            "it. Nothing of it is left to show.",
            "No longer shared",
        )
    if event.unknown:
        return (
            f"{title} was deleted elsewhere (while live updates were away, or since); "
            "nothing of it is left to show.",
            "Deleted elsewhere",
        )
    return (
        f"{title} was deleted ({made_by_label(event.by)}); nothing of it is left to show.",
        "Deleted elsewhere",
    )
