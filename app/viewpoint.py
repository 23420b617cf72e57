"""Who is looking: the app's user and the open conversation's owner, to name a message's maker.

The server records a response's author only when it is not the conversation's owner (""
means the owner), and tells the caller their own user id with the loaded conversation
(`caller_user_id`; the embedded server's local user too). Only together do they say, for
the user looking, whether a message is theirs ("You", no "by") or another's ("bob",
"by alice"): a writer must not see the owner's messages as "You" nor their own as "bob".

The explorer sets the viewpoint when it shows a conversation (one conversation is open at
a time, and the Compare and token screens show its messages); the message drawing reads
it and keys its cache by it. Without a caller id (an older server) it falls back to what
the author field alone says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the start path imports no pydantic (tests/app/test_start_lazy.py)
    from grove_explorer.client.models import ConversationSummary


@dataclass(frozen=True)
class Viewpoint:
    """The user looking ("" : not told) and the open conversation's owner ("" : not told)."""

    me: str = ""
    owner: str = ""

    def maker(self, author: str) -> str:
        """Who made a message with this `author` field, to name ("" : the user looking).

        `author` is "" for the owner. Unknown `me`: the author as stored (the owner's
        messages are the viewer's, as before servers told the caller's id).
        """
        if not self.me:
            return author
        made_by = author or self.owner
        return "" if not made_by or made_by == self.me else made_by


def viewpoint_of(summary: ConversationSummary) -> Viewpoint:
    """The viewpoint of a loaded conversation's summary.

    An owner is the caller even when an older server does not say the caller's id.
    """
    me = summary.caller_user_id
    if not me and summary.role == "owner":
        me = summary.owner_user_id
    return Viewpoint(me=me, owner=summary.owner_user_id)


_current = Viewpoint()


def current_viewpoint() -> Viewpoint:
    """The viewpoint of the conversation the explorer shows (empty when none)."""
    return _current


def set_viewpoint(viewpoint: Viewpoint) -> None:
    """Makes `viewpoint` the one messages are drawn from (the explorer, on open/close)."""
    global _current
    _current = viewpoint
