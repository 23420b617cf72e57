"""The store's records of sharing between users (SQLite migration 16, PostgreSQL 3).

A conversation belongs to one user, its owner; the owner may share it with other users
as a reader (reads it, searches it, keeps a place of their own in it) or a writer (also
adds responses, annotations, judgements and votes). Proto-free like records.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from grove_explorer.server.store.rows import parse_time

ShareRole = Literal["reader", "writer"]
"""What a share grants (the owner's own role is "owner" and is never stored)."""

AccessRole = Literal["owner", "writer", "reader"]
"""A user's role on a conversation they may reach."""

SHARE_ROLES: tuple[ShareRole, ...] = ("reader", "writer")


class ShareRefusedError(ValueError):
    """A grant that cannot be made (to the owner themselves, an unknown role); says why."""


@dataclass(frozen=True, slots=True)
class Access:
    """What one user may do with one conversation: whose it is and their role."""

    owner_id: str
    role: AccessRole

    @property
    def is_owner(self) -> bool:
        """True for the conversation's owner."""
        return self.role == "owner"

    @property
    def can_write(self) -> bool:
        """True for the owner and writers."""
        return self.role != "reader"


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """One user a conversation is shared with, as its owner lists it."""

    conversation_id: str
    user_id: str
    role: ShareRole
    granted_by: str
    create_time: datetime


def check_grant(owner_id: str, user_id: str, role: str) -> ShareRole:
    """The role of a grant both stores accept; ShareRefusedError with a sentence if not."""
    if role not in SHARE_ROLES:
        raise ShareRefusedError(f"Unknown role {role!r}: a share is 'reader' or 'writer'.")
    if not user_id:
        raise ShareRefusedError("Name the user to share the conversation with.")
    if user_id == owner_id:
        raise ShareRefusedError(
            f"{user_id!r} owns this conversation already: it cannot be shared with its owner."
        )
    return "reader" if role == "reader" else "writer"


def read_access(rows: list[Any]) -> Access | None:
    """The Access of rows of (owner, role) (None: no row, no access); either store."""
    if not rows:
        return None
    role: AccessRole = rows[0][1]
    return Access(owner_id=rows[0][0], role=role)


def read_share(row: Any) -> ShareRecord:
    """A share from a row of (conversation_id, user_id, role, granted_by, create_time)."""
    role: ShareRole = row[2]
    return ShareRecord(
        conversation_id=row[0],
        user_id=row[1],
        role=role,
        granted_by=row[3],
        create_time=parse_time(row[4]),
    )
